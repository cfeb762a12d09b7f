/** Number formatting shared by the terminal table, the Markdown and the chart. */
export function n0(v) {
  return v === null || v === undefined || Number.isNaN(v) ? "—" : Math.round(v).toLocaleString("en-US");
}
export function n1(v) {
  return v === null || v === undefined || Number.isNaN(v) ? "—" : v >= 100 ? n0(v) : v.toFixed(1);
}
export function ratio(v) {
  return v === null || v === undefined || !Number.isFinite(v) ? "—" : `${v.toFixed(2)}x`;
}
