// A go-bexpr subset for Consul's ?filter: ==, !=, in, not in, contains, not contains, is empty,
// is not empty, matches, not matches; and/or/not with parentheses; dotted selectors whose
// segments may be map keys (Service.Meta.version, NodeMeta["rack id"]); values quoted "…",
// raw `…`, or bare words and numbers. Evaluated against the JSON shape the client receives, so
// selectors name the same fields Consul documents. A parse error is Consul's 500.

import { HttpError } from './params.ts';

type MatchOp = '==' | '!=' | 'in' | 'not in' | 'contains' | 'not contains' | 'is empty' | 'is not empty' | 'matches' | 'not matches';

export type FilterNode =
  | { readonly kind: 'and' | 'or'; readonly left: FilterNode; readonly right: FilterNode }
  | { readonly kind: 'not'; readonly operand: FilterNode }
  | { readonly kind: 'match'; readonly op: MatchOp; readonly selector: readonly string[]; readonly value: string; readonly regex?: RegExp };

export type Predicate = (item: unknown) => boolean;

class ParseError extends Error {}

const WORD = /^[A-Za-z_][A-Za-z0-9_]*/;
const NUMBER = /^-?[0-9]+(?:\.[0-9]+)?(?![A-Za-z0-9_.-])/;
const BARE_WORD = /^[A-Za-z0-9_]+(?![A-Za-z0-9_.-])/;

class Parser {
  readonly #src: string;
  #pos = 0;

  constructor(src: string) {
    this.#src = src;
  }

  fail(expected: string): never {
    throw new ParseError(`1:${this.#pos + 1} (${this.#pos}): no match found, expected: ${expected}`);
  }

  #skip(): void {
    while (this.#pos < this.#src.length && ' \t\r\n'.includes(this.#src[this.#pos]!)) this.#pos++;
  }

  #rest(): string {
    this.#skip();
    return this.#src.slice(this.#pos);
  }

  /** Consumes a keyword only when a word boundary follows it. */
  #keyword(word: string): boolean {
    const rest = this.#rest();
    if (rest.startsWith(word) && !/^[A-Za-z0-9_]/.test(rest.slice(word.length))) {
      this.#pos += word.length;
      return true;
    }
    return false;
  }

  #symbol(sym: string): boolean {
    if (this.#rest().startsWith(sym)) {
      this.#pos += sym.length;
      return true;
    }
    return false;
  }

  parse(): FilterNode {
    const node = this.#or();
    if (this.#rest() !== '') this.fail('"and", "or" or end of input');
    return node;
  }

  #or(): FilterNode {
    let left = this.#and();
    while (this.#keyword('or')) left = { kind: 'or', left, right: this.#and() };
    return left;
  }

  #and(): FilterNode {
    let left = this.#unary();
    while (this.#keyword('and')) left = { kind: 'and', left, right: this.#unary() };
    return left;
  }

  #unary(): FilterNode {
    if (this.#keyword('not')) return { kind: 'not', operand: this.#unary() };
    if (this.#symbol('(')) {
      const inner = this.#or();
      if (!this.#symbol(')')) this.fail('")"');
      return inner;
    }
    return this.#match();
  }

  #match(): FilterNode {
    const rest = this.#rest();
    // `<value> [not] in <selector>` starts with a value; a quoted value can only mean that form.
    const startsQuoted = rest.startsWith('"') || rest.startsWith('`');
    if (startsQuoted || !WORD.test(rest) || this.#looksLikeIn()) {
      const value = this.#value();
      const negated = this.#keyword('not');
      if (!this.#keyword('in')) this.fail(negated ? '"in"' : '"in" or "not in"');
      return { kind: 'match', op: negated ? 'not in' : 'in', selector: this.#selector(), value };
    }
    const selector = this.#selector();
    if (this.#symbol('==')) return { kind: 'match', op: '==', selector, value: this.#value() };
    if (this.#symbol('!=')) return { kind: 'match', op: '!=', selector, value: this.#value() };
    if (this.#keyword('is')) {
      const negated = this.#keyword('not');
      if (!this.#keyword('empty')) this.fail('"empty"');
      return { kind: 'match', op: negated ? 'is not empty' : 'is empty', selector, value: '' };
    }
    const negated = this.#keyword('not');
    if (this.#keyword('contains')) return { kind: 'match', op: negated ? 'not contains' : 'contains', selector, value: this.#value() };
    if (this.#keyword('matches')) {
      const value = this.#value();
      let regex: RegExp;
      try {
        regex = new RegExp(value);
      } catch (err) {
        throw new ParseError(`invalid regular expression ${JSON.stringify(value)}: ${(err as Error).message}`);
      }
      return { kind: 'match', op: negated ? 'not matches' : 'matches', selector, value, regex };
    }
    return this.fail('"!=", "==", "contains", "is", "matches", "not" or "."');
  }

  /** A bare word followed by `in` / `not in` is a value, not a selector. */
  #looksLikeIn(): boolean {
    const save = this.#pos;
    const m = BARE_WORD.exec(this.#rest());
    if (!m) return false;
    this.#pos += m[0].length;
    const result = this.#keyword('in') || (this.#keyword('not') && this.#keyword('in'));
    this.#pos = save;
    return result;
  }

  #selector(): string[] {
    const parts: string[] = [];
    const first = WORD.exec(this.#rest());
    if (!first) this.fail('selector');
    parts.push(first[0]);
    this.#pos += first[0].length;
    for (;;) {
      if (this.#src[this.#pos] === '.') {
        this.#pos++;
        const m = /^[A-Za-z0-9_\-/]+/.exec(this.#src.slice(this.#pos));
        if (!m) this.fail('selector segment after "."');
        parts.push(m[0]);
        this.#pos += m[0].length;
      } else if (this.#src[this.#pos] === '[') {
        this.#pos++;
        parts.push(this.#value());
        if (!this.#symbol(']')) this.fail('"]"');
      } else return parts;
    }
  }

  #value(): string {
    const rest = this.#rest();
    if (rest.startsWith('"')) {
      const m = /^"(?:[^"\\]|\\.)*"/.exec(rest);
      if (!m) this.fail('closing \'"\'');
      this.#pos += m[0].length;
      try {
        return JSON.parse(m[0]) as string;
      } catch {
        throw new ParseError(`invalid escape in ${m[0]}`);
      }
    }
    if (rest.startsWith('`')) {
      const end = rest.indexOf('`', 1);
      if (end < 0) this.fail('closing "`"');
      this.#pos += end + 1;
      return rest.slice(1, end);
    }
    const m = NUMBER.exec(rest) ?? BARE_WORD.exec(rest);
    if (!m) this.fail('quoted string, number or word');
    this.#pos += m[0].length;
    return m[0];
  }
}

/** Parses an expression; throws Consul's 500 on a syntax error or a selector outside `fields`. */
export function compileFilter(expression: string, fields: ReadonlySet<string>): Predicate {
  let ast: FilterNode;
  try {
    ast = new Parser(expression).parse();
    checkSelectors(ast, fields);
  } catch (err) {
    if (err instanceof ParseError) throw new HttpError(500, `Failed to create boolean expression evaluator: ${err.message}`);
    throw err;
  }
  return (item) => evaluate(ast, item);
}

function checkSelectors(node: FilterNode, fields: ReadonlySet<string>): void {
  if (node.kind === 'match') {
    if (!fields.has(node.selector[0]!)) throw new ParseError(`Selector "${node.selector.join('.')}" is not valid`);
  } else if (node.kind === 'not') checkSelectors(node.operand, fields);
  else {
    checkSelectors(node.left, fields);
    checkSelectors(node.right, fields);
  }
}

const MISSING = Symbol('missing');

/** Follows a selector; crossing a list yields every element's value (bexpr's "any element" reading). */
function resolve(value: unknown, path: readonly string[], at: number, out: unknown[]): void {
  if (at === path.length) {
    out.push(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) resolve(v, path, at, out);
    return;
  }
  if (value === null || typeof value !== 'object') {
    out.push(MISSING);
    return;
  }
  const key = path[at]!;
  const rec = value as Record<string, unknown>;
  resolve(Object.hasOwn(rec, key) ? rec[key] : MISSING, path, at + 1, out);
}

function equals(leaf: unknown, value: string): boolean {
  if (typeof leaf === 'string') return leaf === value;
  if (typeof leaf === 'number') return value.trim() !== '' && Number(value) === leaf;
  if (typeof leaf === 'boolean') return String(leaf) === value.toLowerCase();
  return false;
}

function isEmpty(leaf: unknown): boolean {
  if (leaf === MISSING || leaf === null || leaf === undefined || leaf === '') return true;
  if (Array.isArray(leaf)) return leaf.length === 0;
  if (typeof leaf === 'object') return Object.keys(leaf).length === 0;
  return false;
}

/** Membership: list element, map key, or substring — as bexpr's `in`/`contains`. */
function holds(container: unknown, value: string): boolean {
  if (Array.isArray(container)) return container.some((e) => equals(e, value));
  if (typeof container === 'string') return container.includes(value);
  if (container !== null && typeof container === 'object') return Object.hasOwn(container, value);
  return false;
}

function evaluate(node: FilterNode, item: unknown): boolean {
  switch (node.kind) {
    case 'and':
      return evaluate(node.left, item) && evaluate(node.right, item);
    case 'or':
      return evaluate(node.left, item) || evaluate(node.right, item);
    case 'not':
      return !evaluate(node.operand, item);
    case 'match':
      return evalMatch(node, item);
  }
}

function evalMatch(node: Extract<FilterNode, { kind: 'match' }>, item: unknown): boolean {
  const leaves: unknown[] = [];
  // Collections are tested whole by membership and emptiness operators; resolve the parent list only for scalars.
  resolveWhole(item, node.selector, leaves);
  switch (node.op) {
    case '==':
      return leaves.some((l) => equals(l, node.value));
    case '!=':
      return !leaves.some((l) => equals(l, node.value));
    case 'is empty':
      return leaves.every(isEmpty);
    case 'is not empty':
      return !leaves.every(isEmpty);
    case 'in':
    case 'contains':
      return leaves.some((l) => holds(l, node.value));
    case 'not in':
    case 'not contains':
      return !leaves.some((l) => holds(l, node.value));
    case 'matches':
      return leaves.some((l) => typeof l === 'string' && node.regex!.test(l));
    case 'not matches':
      return !leaves.some((l) => typeof l === 'string' && node.regex!.test(l));
  }
}

/** Like resolve, but a list at the end of the path stays one value (so `Tags contains x` sees the list). */
function resolveWhole(item: unknown, path: readonly string[], out: unknown[]): void {
  const parents: unknown[] = [];
  resolve(item, path.slice(0, -1), 0, parents);
  const last = path[path.length - 1]!;
  const pick = (parent: unknown): void => {
    if (Array.isArray(parent)) for (const p of parent) pick(p);
    else if (parent !== null && typeof parent === 'object') {
      const rec = parent as Record<string, unknown>;
      out.push(Object.hasOwn(rec, last) ? rec[last] : MISSING);
    } else out.push(MISSING);
  };
  for (const parent of parents) pick(parent);
}
