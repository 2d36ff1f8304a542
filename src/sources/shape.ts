// Small, strict readers for untrusted JSON/YAML values. Each failure names the path of the
// offending field ("[3].Service.Port", "spec.ports[1].port") so an operator can find it; the
// parsers add the file name and document/array position in front.

import { DiscoveryError } from '../platform/errors.ts';

/** A problem at one path inside one input object; the parsers turn it into a DiscoveryError. */
export class ShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShapeError';
  }
}

export type Obj = Readonly<Record<string, unknown>>;

/** The error a snapshot parser throws: the file it read, then the problem. */
export function snapshotError(origin: string, message: string, cause?: unknown): DiscoveryError {
  return new DiscoveryError('DSC_ERR_SNAPSHOT', `${origin}: ${message}`, cause === undefined ? undefined : { cause });
}

export function fail(path: string, problem: string): never {
  throw new ShapeError(`${path} ${problem}`);
}

export function field(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

export function item(path: string, index: number): string {
  return `${path}[${index}]`;
}

export function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return `${typeof v} ${String(v)}`;
  return typeof v;
}

export function object(v: unknown, path: string): Obj {
  if (v === undefined) fail(path, 'is required');
  if (!isObject(v)) fail(path, `must be an object, got ${describe(v)}`);
  return v;
}

/** Absent and null both mean "not given" (kubectl prints `endpoints: null`, Go encodes nil maps as null). */
export function optObject(o: Obj, key: string, path: string): Obj | undefined {
  const v = o[key];
  return v === undefined || v === null ? undefined : object(v, field(path, key));
}

export function str(o: Obj, key: string, path: string): string {
  const v = o[key];
  if (typeof v !== 'string') fail(field(path, key), v === undefined ? 'is required' : `must be a string, got ${describe(v)}`);
  return v;
}

export function optStr(o: Obj, key: string, path: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') fail(field(path, key), `must be a string, got ${describe(v)}`);
  return v;
}

export function optBool(o: Obj, key: string, path: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') fail(field(path, key), `must be true or false, got ${describe(v)}`);
  return v;
}

export function optInt(o: Obj, key: string, path: string, min: number, max: number): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(field(path, key), `must be an integer ${min}-${max}, got ${describe(v)}`);
  return v;
}

export function optArray(o: Obj, key: string, path: string): readonly unknown[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) fail(field(path, key), `must be an array, got ${describe(v)}`);
  return v as readonly unknown[];
}

export function optStringList(o: Obj, key: string, path: string): string[] | undefined {
  const list = optArray(o, key, path);
  if (!list) return undefined;
  return list.map((v, i) => {
    if (typeof v !== 'string') fail(item(field(path, key), i), `must be a string, got ${describe(v)}`);
    return v;
  });
}

/**
 * A map of string to string (labels, annotations, Consul Meta). Values are never coerced: YAML `1`
 * is not "1". An entry whose value is `undefined` (only possible in objects built in code) is absent.
 */
export function optStringMap(o: Obj, key: string, path: string): Record<string, string> | undefined {
  const m = optObject(o, key, path);
  if (!m) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m)) {
    if (v === undefined) continue;
    if (typeof v !== 'string') fail(field(field(path, key), k), `must be a string, got ${describe(v)}`);
    out[k] = v;
  }
  return out;
}

/**
 * Reject fields this reader does not know. Typos ("Prot", "port") would otherwise be dropped
 * silently; a near miss in case is named, since Go decoders accept any case but we read exact names.
 */
export function onlyFields(o: Obj, known: ReadonlySet<string>, path: string): void {
  for (const k of Object.keys(o)) {
    if (known.has(k)) continue;
    const near = [...known].find((n) => n.toLowerCase() === k.toLowerCase());
    fail(field(path, k), near ? `is not a known field; did you mean ${near}?` : 'is not a known field');
  }
}

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Names Consul would store and DNS/HTTP can carry: non-empty, no control characters. */
export function name(o: Obj, key: string, path: string): string {
  const v = str(o, key, path);
  if (v === '') fail(field(path, key), 'must not be empty');
  if (CONTROL.test(v)) fail(field(path, key), `must not contain control characters, got ${JSON.stringify(v)}`);
  return v;
}
