/**
 * The name server's `regex` filter, matched in linear time.
 *
 * Pyro's name server runs `re.match(regex, name)` over every name. A
 * backtracking engine (Python's `re`, JavaScript's `RegExp`) lets a short
 * pattern such as `(a+)+$` take exponential time on one name, so a client
 * could stall the name server for everyone (ReDoS). This module compiles the
 * regular subset of the syntax (literals, `.`, classes, `\d\w\s`, groups,
 * `|`, `* + ? {n,m}`, `^ $ \A \Z`) to an NFA and simulates it (Pike VM without
 * captures): time is at most (program size) x (name length) per name, and a
 * whole `list` is bounded by a step budget. Backreferences and lookaround
 * need backtracking and are refused with `INVALID_PARAMS`.
 *
 * Semantics follow `re.match`: anchored at the start of the name, not at its
 * end (write `$` for a whole-name match); matching is by code point.
 */
import { RpcError } from "../errors.js";

type Pred = (cp: number) => boolean;

type Node =
  | { t: "char"; p: Pred }
  | { t: "cat"; items: Node[] }
  | { t: "alt"; items: Node[] }
  | { t: "rep"; node: Node; min: number; max: number } // max -1: unbounded
  | { t: "bol" }
  | { t: "eol" }
  | { t: "empty" };

type Inst =
  | { op: "char"; p: Pred; next: number }
  | { op: "split"; a: number; b: number }
  | { op: "jmp"; to: number }
  | { op: "bol"; next: number }
  | { op: "eol"; next: number }
  | { op: "match" };

function bad(pattern: string, why: string): RpcError {
  return new RpcError("INVALID_PARAMS", `invalid regex ${JSON.stringify(pattern)}: ${why}`);
}

const isDigit: Pred = (c) => c >= 48 && c <= 57;
const isWord: Pred = (c) => isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || (c > 127 && /[\p{L}\p{N}_]/u.test(String.fromCodePoint(c)));
const isSpace: Pred = (c) => c === 32 || (c >= 9 && c <= 13) || (c > 127 && /\s/u.test(String.fromCodePoint(c)));
const not = (p: Pred): Pred => (c) => !p(c);

class Parser {
  #i = 0;
  readonly #cps: number[];
  constructor(readonly src: string) {
    this.#cps = Array.from(src, (s) => s.codePointAt(0) as number);
  }

  parse(): Node {
    const n = this.#alt();
    if (this.#i < this.#cps.length) throw bad(this.src, `unbalanced ')' at ${this.#i}`);
    return n;
  }

  #peek(): number | undefined {
    return this.#cps[this.#i];
  }

  #alt(): Node {
    const items = [this.#cat()];
    while (this.#peek() === 0x7c /* | */) {
      this.#i++;
      items.push(this.#cat());
    }
    return items.length === 1 ? (items[0] as Node) : { t: "alt", items };
  }

  #cat(): Node {
    const items: Node[] = [];
    for (let c = this.#peek(); c !== undefined && c !== 0x7c && c !== 0x29; c = this.#peek()) {
      items.push(this.#repeat());
    }
    return items.length === 1 ? (items[0] as Node) : items.length === 0 ? { t: "empty" } : { t: "cat", items };
  }

  #repeat(): Node {
    let node = this.#atom();
    for (;;) {
      const c = this.#peek();
      let min: number;
      let max: number;
      if (c === 0x2a /* * */) [min, max] = [0, -1];
      else if (c === 0x2b /* + */) [min, max] = [1, -1];
      else if (c === 0x3f /* ? */) [min, max] = [0, 1];
      else if (c === 0x7b /* { */ && this.#braces()) [min, max] = this.#braces() as [number, number];
      else return node;
      if (c === 0x7b) this.#skipBraces();
      else this.#i++;
      if (node.t === "bol" || node.t === "eol") throw bad(this.src, "nothing to repeat");
      if (this.#peek() === 0x3f) this.#i++; // lazy: same set of matches
      else if (this.#peek() === 0x2b) throw bad(this.src, "possessive quantifiers are not supported");
      node = { t: "rep", node, min, max };
    }
  }

  /** `{n}`, `{n,}`, `{,m}`, `{n,m}` at the cursor, or undefined (then `{` is a literal, as in Python). */
  #braces(): [number, number] | undefined {
    const rest = String.fromCodePoint(...this.#cps.slice(this.#i, this.#i + 24));
    const m = /^\{(\d*)(,?)(\d*)\}/.exec(rest);
    if (!m || (m[1] === "" && m[3] === "" && m[2] === "")) return undefined;
    const min = m[1] === "" ? 0 : Number(m[1]);
    const max = m[2] === "" ? min : m[3] === "" ? -1 : Number(m[3]);
    if (max !== -1 && max < min) throw bad(this.src, `min repeat greater than max repeat in ${m[0]}`);
    return [min, max];
  }

  #skipBraces(): void {
    while (this.#peek() !== 0x7d) this.#i++;
    this.#i++;
  }

  #atom(): Node {
    const c = this.#cps[this.#i++] as number;
    switch (c) {
      case 0x28 /* ( */: {
        if (this.#peek() === 0x3f /* ? */) {
          const two = String.fromCodePoint(...this.#cps.slice(this.#i, this.#i + 3));
          if (two.startsWith("?:")) this.#i += 2;
          else if (two.startsWith("?P<")) {
            const end = this.#cps.indexOf(0x3e, this.#i);
            if (end < 0) throw bad(this.src, "unterminated group name");
            this.#i = end + 1;
          } else if (/^\?(=|!|<=|<!)/.test(two)) throw bad(this.src, "lookahead and lookbehind are not supported (the name server matches in linear time)");
          else if (two.startsWith("?P=")) throw bad(this.src, "backreferences are not supported (the name server matches in linear time)");
          else throw bad(this.src, `unsupported group (${two}...)`);
        }
        const inner = this.#alt();
        if (this.#cps[this.#i++] !== 0x29) throw bad(this.src, "missing ')'");
        return inner;
      }
      case 0x29:
        throw bad(this.src, "unbalanced ')'");
      case 0x2a:
      case 0x2b:
      case 0x3f:
        throw bad(this.src, `nothing to repeat at ${this.#i - 1}`);
      case 0x2e /* . */:
        return { t: "char", p: (x) => x !== 10 };
      case 0x5e /* ^ */:
        return { t: "bol" };
      case 0x24 /* $ */:
        return { t: "eol" };
      case 0x5b /* [ */:
        return { t: "char", p: this.#klass() };
      case 0x5c /* \ */: {
        const e = this.#escape(false);
        return typeof e === "function" ? { t: "char", p: e } : e;
      }
      default:
        return { t: "char", p: (x) => x === c };
    }
  }

  /** After a backslash: a predicate, or an anchor node (outside classes). */
  #escape(inClass: boolean): Pred | Node {
    const c = this.#cps[this.#i++];
    if (c === undefined) throw bad(this.src, "trailing backslash");
    const ch = String.fromCodePoint(c);
    switch (ch) {
      case "d": return isDigit;
      case "D": return not(isDigit);
      case "w": return isWord;
      case "W": return not(isWord);
      case "s": return isSpace;
      case "S": return not(isSpace);
      case "t": return (x) => x === 9;
      case "n": return (x) => x === 10;
      case "r": return (x) => x === 13;
      case "f": return (x) => x === 12;
      case "v": return (x) => x === 11;
      case "a": return (x) => x === 7;
      case "A":
        if (inClass) break;
        return { t: "bol" };
      case "Z":
        if (inClass) break;
        return { t: "eol" };
      case "x":
      case "u":
      case "U": {
        const len = ch === "x" ? 2 : ch === "u" ? 4 : 8;
        const hex = String.fromCodePoint(...this.#cps.slice(this.#i, this.#i + len));
        if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) throw bad(this.src, `bad escape \\${ch}${hex}`);
        this.#i += len;
        const v = parseInt(hex, 16);
        return (x) => x === v;
      }
    }
    if (/[0-9]/.test(ch)) throw bad(this.src, "backreferences are not supported (the name server matches in linear time)");
    if (/[A-Za-z]/.test(ch)) throw bad(this.src, `unsupported escape \\${ch}`);
    return (x) => x === c;
  }

  #klass(): Pred {
    const negate = this.#peek() === 0x5e;
    if (negate) this.#i++;
    const parts: Pred[] = [];
    let first = true;
    for (;;) {
      const c = this.#cps[this.#i++];
      if (c === undefined) throw bad(this.src, "unterminated character set");
      if (c === 0x5d /* ] */ && !first) break;
      first = false;
      let lo: number | Pred;
      if (c === 0x5c) {
        const e = this.#escape(true);
        if (typeof e !== "function") throw bad(this.src, "bad escape in character set");
        lo = e;
      } else lo = c;
      // A range a-z (not when '-' is last, nor from a class escape like \d).
      if (typeof lo === "number" && this.#peek() === 0x2d && this.#cps[this.#i + 1] !== undefined && this.#cps[this.#i + 1] !== 0x5d) {
        this.#i++;
        let hi = this.#cps[this.#i++] as number;
        if (hi === 0x5c) {
          const e = this.#escape(true);
          const probe = [...Array(0x80).keys()].filter((x) => (e as Pred)(x));
          if (probe.length !== 1) throw bad(this.src, "bad character range");
          hi = probe[0] as number;
        }
        if (hi < lo) throw bad(this.src, "bad character range");
        const a = lo;
        parts.push((x) => x >= a && x <= hi);
      } else if (typeof lo === "number") {
        const v = lo;
        parts.push((x) => x === v);
      } else parts.push(lo);
    }
    const any: Pred = (x) => {
      for (const p of parts) if (p(x)) return true;
      return false;
    };
    return negate ? (x) => x !== 10 && !any(x) : any;
  }
}

/** A compiled name filter. */
export class NameRegex {
  readonly #prog: Inst[];
  /** Instructions in the compiled program: the per-character cost bound. */
  readonly size: number;

  /**
   * Compile `pattern`; `maxProgram` bounds the NFA (counted repeats
   * expand), refused with `NAMING_LIMIT` past it.
   */
  constructor(readonly pattern: string, maxProgram: number) {
    const ast = new Parser(pattern).parse();
    const prog: Inst[] = [];
    const emit = (i: Inst): number => {
      if (prog.length >= maxProgram) {
        throw new RpcError("NAMING_LIMIT", `regex ${JSON.stringify(pattern)} compiles to more than ${maxProgram} states (large {n,m} repeats): simplify it or filter by prefix`);
      }
      prog.push(i);
      return prog.length - 1;
    };
    // Compile `n` so that it continues at the instruction index returned by `next()`
    // when patched: classic Thompson construction with holes patched afterwards.
    const compile = (n: Node): { start: number; holes: Array<(to: number) => void> } => {
      switch (n.t) {
        case "empty": {
          const j = emit({ op: "jmp", to: -1 });
          return { start: j, holes: [(to) => ((prog[j] as { to: number }).to = to)] };
        }
        case "char": {
          const j = emit({ op: "char", p: n.p, next: -1 });
          return { start: j, holes: [(to) => ((prog[j] as { next: number }).next = to)] };
        }
        case "bol":
        case "eol": {
          const j = emit({ op: n.t, next: -1 });
          return { start: j, holes: [(to) => ((prog[j] as { next: number }).next = to)] };
        }
        case "cat": {
          let first: number | undefined;
          let holes: Array<(to: number) => void> = [];
          for (const item of n.items) {
            const f = compile(item);
            if (first === undefined) first = f.start;
            for (const h of holes) h(f.start);
            holes = f.holes;
          }
          return { start: first as number, holes };
        }
        case "alt": {
          // split a, (split b, c ...)
          const holes: Array<(to: number) => void> = [];
          let start = -1;
          let prevSplit = -1;
          n.items.forEach((item, k) => {
            const last = k === n.items.length - 1;
            const s = last ? -1 : emit({ op: "split", a: -1, b: -1 });
            const f = compile(item);
            if (s >= 0) (prog[s] as { a: number }).a = f.start;
            const entry = s >= 0 ? s : f.start;
            if (start < 0) start = entry;
            if (prevSplit >= 0) (prog[prevSplit] as { b: number }).b = entry;
            prevSplit = s;
            holes.push(...f.holes);
          });
          return { start, holes };
        }
        case "rep": {
          let start = -1;
          let holes: Array<(to: number) => void> = [];
          const chain = (f: { start: number; holes: Array<(to: number) => void> }) => {
            if (start < 0) start = f.start;
            for (const h of holes) h(f.start);
            holes = f.holes;
          };
          for (let k = 0; k < n.min; k++) chain(compile(n.node));
          if (n.max === -1) {
            const s = emit({ op: "split", a: -1, b: -1 });
            const body = compile(n.node);
            (prog[s] as { a: number }).a = body.start;
            for (const h of body.holes) h(s);
            chain({ start: s, holes: [(to) => ((prog[s] as { b: number }).b = to)] });
          } else {
            // (x(x(x)?)?)? for the optional copies
            const optional: number[] = [];
            for (let k = n.min; k < n.max; k++) {
              const s = emit({ op: "split", a: -1, b: -1 });
              optional.push(s);
              const body = compile(n.node);
              (prog[s] as { a: number }).a = body.start;
              chain({ start: s, holes: body.holes });
            }
            holes.push(...optional.map((s) => (to: number) => ((prog[s] as { b: number }).b = to)));
          }
          if (start < 0) {
            const j = emit({ op: "jmp", to: -1 });
            return { start: j, holes: [(to) => ((prog[j] as { to: number }).to = to)] };
          }
          return { start, holes };
        }
      }
    };
    const f = compile(ast);
    const m = emit({ op: "match" });
    for (const h of f.holes) h(m);
    this.#start = f.start;
    this.#prog = prog;
    this.size = prog.length;
    this.#mark = new Int32Array(prog.length);
  }

  readonly #start: number;
  /** DFA states built so far (lazily, from sets of NFA states), keyed by their NFA states. */
  readonly #states = new Map<string, DState>();
  #initial: DState | undefined;
  #initialEmpty: DState | undefined;
  /** Scratch marks for closures: one generation per closure, no allocation per name. */
  readonly #mark: Int32Array;
  #gen = 0;

  /**
   * Does `name` match at its start (`re.match`)? Adds the steps spent to
   * `budget.steps` and throws `NAMING_LIMIT` once it passes `budget.max`.
   *
   * A lazily built DFA: each DFA state is a set of NFA states, its
   * transitions cached per code point, so the common case costs one map
   * lookup per character; building a state costs at most the program size.
   * Both count as steps, so a pattern's cost is bounded by
   * (program size) x (name length) whatever the cache does.
   */
  match(name: string, budget: { steps: number; max: number }): boolean {
    const len = name.length;
    let s = len === 0 ? (this.#initialEmpty ??= this.#closure([this.#start], true, true, budget)) : (this.#initial ??= this.#closure([this.#start], true, false, budget));
    if (s.match) return true;
    for (let i = 0; i < len; ) {
      if (budget.steps > budget.max) throw tooCostly(this.pattern, budget.max);
      const cp = name.codePointAt(i) as number;
      i += cp > 0xffff ? 2 : 1;
      // Python's $ also matches before a final newline.
      if (cp === 10 && i === len && s.eol.length > 0 && this.#eolMatches(s, budget)) return true;
      budget.steps++;
      let next = s.next.get(cp);
      if (next === undefined) {
        const targets: number[] = [];
        for (const pc of s.chars) {
          const inst = this.#prog[pc] as { op: "char"; p: Pred; next: number };
          budget.steps++;
          if (inst.p(cp)) targets.push(inst.next);
        }
        next = this.#closure(targets, false, false, budget);
        if (s.next.size < MAX_TRANSITIONS) s.next.set(cp, next);
      }
      s = next;
      if (s.match) return true;
      if (s.chars.length === 0 && s.eol.length === 0) return false;
    }
    if (budget.steps > budget.max) throw tooCostly(this.pattern, budget.max);
    return s.eol.length > 0 && this.#eolMatches(s, budget);
  }

  /** Does some `$` in `s` lead to a match at the end of the name? */
  #eolMatches(s: DState, budget: { steps: number; max: number }): boolean {
    if (s.eolMatch === undefined) {
      s.eolMatch = this.#closure(s.eol.map((pc) => (this.#prog[pc] as { next: number }).next), false, true, budget).match;
    }
    return s.eolMatch;
  }

  /**
   * The DFA state for the NFA states reachable from `pcs` without reading a
   * character: `^` is followed only at the start, `$` only at the end.
   */
  #closure(pcs: number[], atStart: boolean, atEnd: boolean, budget: { steps: number; max: number }): DState {
    const gen = ++this.#gen;
    const mark = this.#mark;
    const chars: number[] = [];
    const eol: number[] = [];
    let match = false;
    const stack = pcs.slice().reverse();
    while (stack.length > 0) {
      const pc = stack.pop() as number;
      if (mark[pc] === gen) continue;
      mark[pc] = gen;
      budget.steps++;
      const inst = this.#prog[pc] as Inst;
      switch (inst.op) {
        case "jmp":
          stack.push(inst.to);
          break;
        case "split":
          stack.push(inst.b, inst.a);
          break;
        case "bol":
          if (atStart) stack.push(inst.next);
          break;
        case "eol":
          if (atEnd) stack.push(inst.next);
          else eol.push(pc);
          break;
        case "match":
          match = true;
          break;
        case "char":
          chars.push(pc);
          break;
      }
    }
    chars.sort((x, y) => x - y);
    eol.sort((x, y) => x - y);
    const key = `${match ? 1 : 0}|${chars.join(",")}|${eol.join(",")}`;
    const known = this.#states.get(key);
    if (known) return known;
    const state: DState = { chars, eol, match, next: new Map(), eolMatch: undefined };
    // Past the cap, states are still correct, just not shared (no memory growth).
    if (this.#states.size < MAX_STATES) this.#states.set(key, state);
    return state;
  }
}

interface DState {
  /** NFA `char` instructions live here. */
  readonly chars: number[];
  /** NFA `$` instructions waiting for the end of the name. */
  readonly eol: number[];
  /** The NFA's match state is reached: `re.match` succeeds. */
  readonly match: boolean;
  /** Transitions by code point, filled as names are read. */
  readonly next: Map<number, DState>;
  eolMatch: boolean | undefined;
}

/** DFA states cached per regex, and transitions per state: bounds the cache at about MAX_STATES x MAX_TRANSITIONS entries. */
const MAX_STATES = 1024;
const MAX_TRANSITIONS = 256;

function tooCostly(pattern: string, max: number): RpcError {
  return new RpcError("NAMING_LIMIT", `regex ${JSON.stringify(pattern)} took more than ${max} matching steps over the registered names: use a simpler pattern or filter by prefix`);
}
