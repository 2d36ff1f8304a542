// Label and field selectors as list and watch accept them (`labelSelector`, `fieldSelector`).

import { badRequest } from './status.ts';
import type { ResourceType } from './resources.ts';

export type Labels = Readonly<Record<string, string>>;

type Requirement =
  | { readonly op: 'exists' | '!'; readonly key: string }
  | { readonly op: '=' | '!='; readonly key: string; readonly value: string }
  | { readonly op: 'in' | 'notin'; readonly key: string; readonly values: ReadonlySet<string> }
  | { readonly op: 'gt' | 'lt'; readonly key: string; readonly bound: number };

export interface LabelSelector {
  matches(labels: Labels): boolean;
}

const KEY = String.raw`[A-Za-z0-9](?:[-A-Za-z0-9_./]*[A-Za-z0-9])?`;
const VALUE = String.raw`(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?`;
const EXISTS = new RegExp(`^(${KEY})$`);
const NOT_EXISTS = new RegExp(String.raw`^!\s*(${KEY})$`);
const EQUALITY = new RegExp(String.raw`^(${KEY})\s*(==|=|!=)\s*(${VALUE})$`);
const SET = new RegExp(String.raw`^(${KEY})\s+(in|notin)\s*\(([^()]*)\)$`);
const ORDER = new RegExp(String.raw`^(${KEY})\s*([<>])\s*(-?\d+)$`);

/** Splits at the commas that are not inside a parenthesised value set. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim());
}

function parseRequirement(text: string): Requirement {
  let m = EXISTS.exec(text);
  if (m) return { op: 'exists', key: m[1] as string };
  m = NOT_EXISTS.exec(text);
  if (m) return { op: '!', key: m[1] as string };
  m = EQUALITY.exec(text);
  if (m) return { op: m[2] === '!=' ? '!=' : '=', key: m[1] as string, value: m[3] as string };
  m = SET.exec(text);
  if (m) {
    const values = (m[3] as string).split(',').map((v) => v.trim());
    if (values.some((v) => !new RegExp(`^${VALUE}$`).test(v))) throw badRequest(`unable to parse requirement: invalid value in ${JSON.stringify(text)}`);
    return { op: m[2] === 'in' ? 'in' : 'notin', key: m[1] as string, values: new Set(values) };
  }
  m = ORDER.exec(text);
  if (m) return { op: m[2] === '>' ? 'gt' : 'lt', key: m[1] as string, bound: Number(m[3]) };
  throw badRequest(`unable to parse requirement: ${JSON.stringify(text)} is not a valid label selector requirement`);
}

function requirementMatches(r: Requirement, labels: Labels): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  const value = has ? labels[r.key] : undefined;
  switch (r.op) {
    case 'exists': return has;
    case '!': return !has;
    case '=': return has && value === r.value;
    case '!=': return !has || value !== r.value;
    case 'in': return has && r.values.has(value as string);
    case 'notin': return !has || !r.values.has(value as string);
    case 'gt': return has && /^-?\d+$/.test(value as string) && Number(value) > r.bound;
    case 'lt': return has && /^-?\d+$/.test(value as string) && Number(value) < r.bound;
  }
}

/** Parses a label selector; an empty or absent one selects everything. Throws a 400 Status. */
export function parseLabelSelector(text: string | null | undefined): LabelSelector | null {
  if (text === null || text === undefined || text.trim() === '') return null;
  const requirements = splitTopLevel(text).map(parseRequirement);
  return { matches: (labels) => requirements.every((r) => requirementMatches(r, labels)) };
}

export interface FieldSelector {
  matches(fieldValue: (field: string) => string): boolean;
  /** The name an `metadata.name=x` term pins, to narrow a lookup. */
  readonly name?: string;
}

/** Parses a field selector over the fields the type supports. Throws a 400 Status. */
export function parseFieldSelector(text: string | null | undefined, type: ResourceType): FieldSelector | null {
  if (text === null || text === undefined || text.trim() === '') return null;
  const supported = new Set(['metadata.name', 'metadata.namespace', ...type.fieldLabels]);
  const terms = text.split(',').map((t) => t.trim()).filter((t) => t !== '');
  const parsed = terms.map((t) => {
    const m = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(t);
    if (!m) throw badRequest(`invalid selector: '${text}'; can't understand '${t}'`);
    const field = m[1] as string;
    if (!supported.has(field)) throw badRequest(`field label not supported: ${field}`);
    return { field, negate: m[2] === '!=', value: m[3] as string };
  });
  const pinned = parsed.find((p) => p.field === 'metadata.name' && !p.negate);
  return {
    matches: (fieldValue) => parsed.every((p) => (fieldValue(p.field) === p.value) !== p.negate),
    ...(pinned ? { name: pinned.value } : {}),
  };
}

/** The value of a dotted field path in an object, '' when absent or not a scalar. */
export function fieldValueOf(object: Record<string, unknown>, field: string): string {
  let cursor: unknown = object;
  for (const part of field.split('.')) {
    if (cursor === null || typeof cursor !== 'object') return '';
    cursor = (cursor as Record<string, unknown>)[part];
  }
  return typeof cursor === 'string' || typeof cursor === 'number' || typeof cursor === 'boolean' ? String(cursor) : '';
}
