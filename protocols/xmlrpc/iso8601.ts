/**
 * `<dateTime.iso8601>` values. XML-RPC's form is `YYYYMMDDTHH:MM:SS` with no
 * zone; wirecall writes UTC to whole seconds (Python's `DateTime` cannot parse
 * fractions) and reads zone-less values as UTC.
 */
import { invalid, unencodable } from "./codec-error.js";

const pad2 = (n: number): string => String(n).padStart(2, "0");

/**
 * `Date` -> `YYYYMMDDTHH:MM:SS` in UTC (or, with `local`, in this process's
 * time zone, as a naive Python `datetime.now()` is); milliseconds are dropped.
 */
export function formatDateTime(d: Date, local = false): string {
  const t = d.getTime();
  if (!Number.isFinite(t)) throw unencodable("an invalid Date cannot be sent");
  const y = local ? d.getFullYear() : d.getUTCFullYear();
  if (y < 0 || y > 9999) throw unencodable(`dateTime.iso8601 has four-digit years; ${y} does not fit`);
  if (local) return `${String(y).padStart(4, "0")}${pad2(d.getMonth() + 1)}${pad2(d.getDate())}T${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  return `${String(y).padStart(4, "0")}${pad2(d.getUTCMonth() + 1)}${pad2(d.getUTCDate())}T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
}

// Basic (20240102T03:04:05, 20240102T030405) and extended (2024-01-02T03:04:05)
// forms, optional fraction, optional zone (Z, +01:00, +0100).
const DATE_TIME = /^(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):?(\d{2}):?(\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/** Parse a dateTime.iso8601 value; zone-less values are UTC (with `local`, this process's local time). */
export function parseDateTime(text: string, local = false): Date {
  const s = text.trim();
  const m = DATE_TIME.exec(s);
  if (!m) throw invalid(`bad dateTime.iso8601 value ${JSON.stringify(s.slice(0, 40))}`);
  const [, y, mo, d, h, mi, se, frac, zone] = m as unknown as [string, string, string, string, string, string, string, string | undefined, string | undefined];
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(se);
  const ms = frac ? Math.floor(Number(`0.${frac}`) * 1000) : 0;
  let t = Date.UTC(Number(y), month - 1, day, hour, minute, second, ms);
  // Date.UTC maps years 0-99 to 1900-1999.
  if (Number(y) < 100) {
    const fix = new Date(t);
    fix.setUTCFullYear(Number(y));
    t = fix.getTime();
  }
  const check = new Date(t);
  // Date.UTC rolls 2024-02-30 over into March: refuse instead of guessing.
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    throw invalid(`dateTime.iso8601 value out of range: ${JSON.stringify(s)}`);
  }
  if (zone && zone !== "Z") {
    const sign = zone[0] === "-" ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    const offset = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || "0");
    t -= sign * offset * 60_000;
  }
  // Zone-less and local: the same wall-clock fields in this process's zone (its offset on that date).
  if (!zone && local) {
    const wall = new Date(t);
    const l = new Date(wall.getUTCFullYear(), wall.getUTCMonth(), wall.getUTCDate(), wall.getUTCHours(), wall.getUTCMinutes(), wall.getUTCSeconds(), wall.getUTCMilliseconds());
    if (wall.getUTCFullYear() < 100) l.setFullYear(wall.getUTCFullYear());
    t = l.getTime();
  }
  const date = new Date(t);
  if (!Number.isFinite(date.getTime())) throw invalid(`dateTime.iso8601 value out of range: ${JSON.stringify(s)}`);
  return date;
}
