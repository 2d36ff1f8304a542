// The `?filter` expressions of Consul (go-bexpr), the subset the double understands:
//
//   expression := or-expr
//   or-expr    := and-expr ("or" and-expr)*
//   and-expr   := unary ("and" unary)*
//   unary      := "not" unary | "(" or-expr ")" | match
//   match      := selector ("==" | "!=") value
//               | selector "is" ["not"] "empty"
//               | selector ["not"] "contains" value
//               | selector ["not"] "matches" value
//               | value ["not"] "in" selector
//   selector   := name ("." name | "[" string "]")*        name := [A-Za-z_][A-Za-z0-9_]*
//   value      := "double-quoted" (Go escapes) | `raw` | number | bare selector-like word
//
// Keywords are lower case. Operators bind as usual: not > and > or. Selectors are checked against
// the element type of the endpoint (filter-schemas.ts): an unknown field is an error, a map key is
// free. Semantics follow go-bexpr as Consul uses it:
// - a selector that crosses a list (`Checks.Status`) matches when ANY element matches;
// - `!=`, `not in`, `not contains`, `is not empty`, `not matches` are the negation of the positive
//   operator over those elements (so `Checks.Status != "passing"` means no check is passing);
// - `in`/`contains` test list membership, map keys, or substrings; `is empty` tests the length of a
//   list, map or string; a missing map key or null map matches nothing (its negation matches);
// - values are compared to numbers and booleans after conversion (`ServicePort == 8080`);
// - `matches` uses JavaScript regular expressions (Go uses RE2; the common syntax agrees).
// A syntax error or an invalid selector gives Consul's message, "Failed to create boolean
// expression evaluator: …", which the caller sends as a 500 (see routes-read.ts).

import { validateSelector, type Schema } from './filter-schemas.ts';

type MatchOp = 'eq' | 'in' | 'empty' | 'matches';
export type FilterExpr =
  | { readonly kind: 'and' | 'or'; readonly left: FilterExpr; readonly right: FilterExpr }
  | { readonly kind: 'not'; readonly expr: FilterExpr }
  | { readonly kind: 'match'; readonly op: MatchOp; readonly negate: boolean; readonly selector: readonly string[]; readonly value: string; readonly re?: RegExp };

export class FilterError extends Error {}

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'contains', 'is', 'empty', 'matches']);
type Token = { t: 'word' | 'string' | 'number' | 'op' | 'eof'; v: string; at: number };

function fail(at: number, what: string): never {
  throw new FilterError(`1:${at + 1} (${at}): ${what}`);
}

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) { i++; continue; }
    if (c === '(' || c === ')' || c === '[' || c === ']' || c === '.') { out.push({ t: 'op', v: c, at: i }); i++; continue; }
    if ((c === '=' || c === '!') && src[i + 1] === '=') { out.push({ t: 'op', v: `${c}=`, at: i }); i += 2; continue; }
    if (c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== '"') j += src[j] === '\\' ? 2 : 1;
      if (j >= src.length) fail(i, 'no match found, expected: string literal terminated by "');
      let v: string;
      try {
        v = JSON.parse(src.slice(i, j + 1)) as string;
      } catch {
        fail(i, 'invalid escape sequence in string literal');
      }
      out.push({ t: 'string', v, at: i });
      i = j + 1;
      continue;
    }
    if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0) fail(i, 'no match found, expected: raw string literal terminated by `');
      out.push({ t: 'string', v: src.slice(i + 1, j), at: i });
      i = j + 1;
      continue;
    }
    const num = /^-?\d+(\.\d+)?/.exec(src.slice(i));
    if (num) {
      const end = i + num[0].length;
      if (end < src.length && /[A-Za-z0-9_.-]/.test(src[end]!)) fail(i, 'rule "number": Invalid number literal');
      out.push({ t: 'number', v: num[0], at: i });
      i = end;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (word) { out.push({ t: 'word', v: word[0], at: i }); i += word[0].length; continue; }
    fail(i, `no match found, expected: "(", "not", selector or value`);
  }
  out.push({ t: 'eof', v: '', at: src.length });
  return out;
}

class Parser {
  private pos = 0;
  private readonly toks: Token[];
  private readonly schema: Schema;

  constructor(toks: Token[], schema: Schema) {
    this.toks = toks;
    this.schema = schema;
  }

  private peek(k = 0): Token {
    return this.toks[Math.min(this.pos + k, this.toks.length - 1)]!;
  }
  private next(): Token {
    const t = this.peek();
    this.pos++;
    return t;
  }
  private isWord(v: string, k = 0): boolean {
    const t = this.peek(k);
    return t.t === 'word' && t.v === v;
  }
  private expectWord(v: string): void {
    const t = this.next();
    if (t.t !== 'word' || t.v !== v) fail(t.at, `no match found, expected: "${v}"`);
  }

  parse(): FilterExpr {
    const e = this.or();
    const t = this.peek();
    if (t.t !== 'eof') fail(t.at, 'no match found, expected: "and", "or" or EOF');
    return e;
  }
  private or(): FilterExpr {
    let left = this.and();
    while (this.isWord('or')) { this.next(); left = { kind: 'or', left, right: this.and() }; }
    return left;
  }
  private and(): FilterExpr {
    let left = this.unary();
    while (this.isWord('and')) { this.next(); left = { kind: 'and', left, right: this.unary() }; }
    return left;
  }
  private unary(): FilterExpr {
    if (this.isWord('not')) { this.next(); return { kind: 'not', expr: this.unary() }; }
    const t = this.peek();
    if (t.t === 'op' && t.v === '(') {
      this.next();
      const e = this.or();
      const close = this.next();
      if (close.t !== 'op' || close.v !== ')') fail(close.at, 'no match found, expected: ")"');
      return e;
    }
    return this.match();
  }

  /** A selector, or (when allowed) a bare value word, returned as its path. */
  private selector(): string[] {
    const first = this.next();
    if (first.t !== 'word' || KEYWORDS.has(first.v)) fail(first.at, 'no match found, expected: selector');
    const path = [first.v];
    for (;;) {
      const t = this.peek();
      if (t.t === 'op' && t.v === '.') {
        this.next();
        const n = this.next();
        if (n.t !== 'word') fail(n.at, 'no match found, expected: [a-zA-Z0-9_]');
        path.push(n.v);
      } else if (t.t === 'op' && t.v === '[') {
        this.next();
        const k = this.next();
        if (k.t !== 'string') fail(k.at, 'no match found, expected: string literal');
        const close = this.next();
        if (close.t !== 'op' || close.v !== ']') fail(close.at, 'no match found, expected: "]"');
        path.push(k.v);
      } else {
        return path;
      }
    }
  }

  private value(): string {
    const t = this.peek();
    if (t.t === 'string' || t.t === 'number') { this.next(); return t.v; }
    if (t.t === 'word' && !KEYWORDS.has(t.v)) return this.selector().join('.');
    return fail(t.at, 'no match found, expected: value');
  }

  private checked(path: string[]): string[] {
    const problem = validateSelector(this.schema, path);
    if (problem) throw new FilterError(problem);
    return path;
  }

  private match(): FilterExpr {
    const start = this.peek();
    // `value [not] in selector` starts with a value; a selector starts with a word.
    const inAhead = this.isWord('in', 1) || (this.isWord('not', 1) && this.isWord('in', 2));
    if (start.t === 'string' || start.t === 'number' || (start.t === 'word' && inAhead)) {
      const value = this.value();
      const negate = this.isWord('not');
      if (negate) this.next();
      this.expectWord('in');
      const sel = this.selector();
      return { kind: 'match', op: 'in', negate, selector: this.checked(sel), value };
    }
    const sel = this.checked(this.selector());
    const t = this.next();
    if (t.t === 'op' && (t.v === '==' || t.v === '!=')) return { kind: 'match', op: 'eq', negate: t.v === '!=', selector: sel, value: this.value() };
    if (t.t === 'word' && t.v === 'is') {
      const negate = this.isWord('not');
      if (negate) this.next();
      this.expectWord('empty');
      return { kind: 'match', op: 'empty', negate, selector: sel, value: '' };
    }
    let negate = false;
    let op = t;
    if (op.t === 'word' && op.v === 'not') { negate = true; op = this.next(); }
    if (op.t === 'word' && op.v === 'contains') return { kind: 'match', op: 'in', negate, selector: sel, value: this.value() };
    if (op.t === 'word' && op.v === 'matches') {
      const value = this.value();
      let re: RegExp;
      try {
        re = new RegExp(value);
      } catch {
        throw new FilterError(`Failed to compile regular expression "${value}"`);
      }
      return { kind: 'match', op: 'matches', negate, selector: sel, value, re };
    }
    return fail(op.at, 'no match found, expected: "!=", "==", "contains", "in", "is", "matches", "not"');
  }
}

/** Parses `src` for elements of `schema`; throws FilterError with Consul's wording on failure. */
export function compileFilter(src: string, schema: Schema): FilterExpr {
  try {
    return new Parser(tokenize(src), schema).parse();
  } catch (err) {
    if (err instanceof FilterError) throw new FilterError(`Failed to create boolean expression evaluator: ${err.message}`);
    throw err;
  }
}

/** The values a selector reaches in one element; crossing a list fans out. `undefined` = absent. */
function reach(value: unknown, path: readonly string[]): unknown[] {
  if (path.length === 0) return [value];
  if (Array.isArray(value)) return value.flatMap((v) => reach(v, path));
  if (typeof value !== 'object' || value === null) return [undefined];
  const [head, ...rest] = path;
  return reach((value as Record<string, unknown>)[head!], rest);
}

const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

function equals(actual: unknown, raw: string): boolean {
  if (typeof actual === 'string') return actual === raw;
  if (typeof actual === 'number') return raw.trim() !== '' && Number(raw) === actual;
  if (typeof actual === 'boolean') return actual ? TRUE.has(raw) : FALSE.has(raw);
  return false;
}

function positive(op: MatchOp, actual: unknown, raw: string, re: RegExp | undefined): boolean {
  switch (op) {
    case 'eq':
      return equals(actual, raw);
    case 'in':
      if (Array.isArray(actual)) return actual.some((a) => equals(a, raw));
      if (typeof actual === 'string') return actual.includes(raw);
      if (typeof actual === 'object' && actual !== null) return Object.hasOwn(actual, raw);
      return false;
    case 'empty':
      if (actual === null) return true;
      if (Array.isArray(actual) || typeof actual === 'string') return actual.length === 0;
      if (typeof actual === 'object') return Object.keys(actual).length === 0;
      return false;
    case 'matches':
      return typeof actual === 'string' && (re?.test(actual) ?? false);
  }
}

export function evaluateFilter(e: FilterExpr, element: unknown): boolean {
  switch (e.kind) {
    case 'and':
      return evaluateFilter(e.left, element) && evaluateFilter(e.right, element);
    case 'or':
      return evaluateFilter(e.left, element) || evaluateFilter(e.right, element);
    case 'not':
      return !evaluateFilter(e.expr, element);
    case 'match': {
      // A list that is the selector's final value stays whole: `ServiceTags contains "x"` is
      // membership and `ServiceTags is empty` its length; lists crossed on the way fan out.
      const values = reach(element, e.selector);
      const hit = values.some((v) => positive(e.op, v, e.value, e.re));
      return e.negate ? !hit : hit;
    }
  }
}
