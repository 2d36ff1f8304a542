// Query-string parsing with Consul's rules (agent/http.go parseInternal): flags are presence-based,
// `tag` and `node-meta` repeat, and validation errors come out in Consul's order and words.

import { parseGoDuration } from '../../platform/go-duration.ts';

export type Query = ReadonlyMap<string, readonly string[]>;

const EMPTY_QUERY: Query = new Map();

/** Parses the raw query string; repeated keys keep every value, `?stale` alone is `['']`. */
export function parseQueryString(url: string): Query {
  const q = url.indexOf('?');
  if (q < 0 || q === url.length - 1) return EMPTY_QUERY;
  const out = new Map<string, string[]>();
  for (const [k, v] of new URLSearchParams(url.slice(q + 1))) {
    const list = out.get(k);
    if (list) list.push(v);
    else out.set(k, [v]);
  }
  return out;
}

export function first(q: Query, key: string): string | undefined {
  return q.get(key)?.[0];
}

export type Consistency = 'leader' | 'stale' | 'consistent';

export interface ReadOptions {
  /** 0: answer at once. */
  readonly index: number;
  /** Requested wait in ms; 0 or less: the server default. */
  readonly waitMs: number;
  readonly consistency: Consistency;
  readonly pretty: boolean;
  /** Lower-cased, sorted; AND semantics. */
  readonly tags: readonly string[];
  /** `key:value` pairs; AND semantics, exact match. */
  readonly nodeMeta: ReadonlyArray<readonly [string, string]>;
  readonly filter: string;
}

export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

const UINT64_MAX = 18446744073709551615n;

function parseIndex(text: string): number {
  if (!/^\d+$/.test(text) || BigInt(text) > UINT64_MAX) throw new HttpError(400, 'Invalid index');
  return Number(text);
}

const DEFAULT_OPTIONS: ReadOptions = Object.freeze({ index: 0, waitMs: 0, consistency: 'leader', pretty: false, tags: [], nodeMeta: [], filter: '' });

function compareMeta(a: readonly [string, string], b: readonly [string, string]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
}

function splitMeta(kv: string): [string, string] {
  const c = kv.indexOf(':');
  return c < 0 ? [kv, ''] : [kv.slice(0, c), kv.slice(c + 1)];
}

function lower(t: string): string {
  return t.toLowerCase();
}

/** Validates what every catalog/health read shares. Throws HttpError with Consul's status and text. */
export function parseReadOptions(q: Query, headers: Readonly<Record<string, string | string[] | undefined>>, datacenter: string): ReadOptions {
  // The common case (a plain GET) costs nothing beyond two header lookups.
  if (q.size === 0 && headers['x-consul-namespace'] === undefined && headers['x-consul-partition'] === undefined) return DEFAULT_OPTIONS;
  // CE rejects Enterprise tenancy even when it names the default (agent/http_ce.go).
  if (first(q, 'ns') || headers['x-consul-namespace']) throw new HttpError(400, 'Invalid query parameter: "ns" - Namespaces are a Consul Enterprise feature');
  if (first(q, 'partition') || headers['x-consul-partition']) throw new HttpError(400, 'Invalid query parameter: "partition" - Partitions are a Consul Enterprise feature');

  const stale = q.has('stale');
  const consistent = q.has('consistent');
  if (stale && consistent) throw new HttpError(400, 'Cannot specify ?stale with ?consistent, conflicting semantics.');
  if (consistent && q.has('cached')) throw new HttpError(400, 'Cannot specify ?cached with ?consistent, conflicting semantics.');
  const maxStale = first(q, 'max_stale');
  let staleByMax = false;
  if (maxStale !== undefined && maxStale !== '') {
    const ms = parseGoDuration(maxStale);
    if (ms === null) throw new HttpError(400, `Invalid max_stale value "${maxStale}"`);
    staleByMax = ms > 0;
  }
  const consistency: Consistency = q.has('leader') ? 'leader' : consistent ? 'consistent' : stale || staleByMax ? 'stale' : 'leader';

  let waitMs = 0;
  const wait = first(q, 'wait');
  if (wait !== undefined && wait !== '') {
    const ms = parseGoDuration(wait);
    if (ms === null) throw new HttpError(400, 'Invalid wait time');
    waitMs = ms;
  }
  let index = 0;
  const idx = first(q, 'index');
  if (idx !== undefined && idx !== '') index = parseIndex(idx);

  // The datacenter check happens in Consul's RPC layer, after the 400s above.
  const dc = first(q, 'dc');
  if (dc !== undefined && dc !== '' && dc !== datacenter) throw new HttpError(500, 'No path to datacenter');

  const tags = (q.get('tag') ?? []).map(lower).sort();
  const nodeMeta = (q.get('node-meta') ?? []).map(splitMeta).sort(compareMeta);
  return { index, waitMs, consistency, pretty: q.has('pretty'), tags, nodeMeta, filter: first(q, 'filter') ?? '' };
}

const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** `?passing`: absent false, present-empty true, else Go ParseBool. */
export function parsePassing(q: Query): boolean {
  const v = q.get('passing');
  if (v === undefined) return false;
  const s = v[0] ?? '';
  if (s === '' || TRUE.has(s)) return true;
  if (FALSE.has(s)) return false;
  throw new HttpError(400, 'Invalid value for ?passing');
}

/** The part of the options that changes the body: what answer-cache keys include. */
export function shapeKey(o: ReadOptions, passing = false): string {
  if (!o.pretty && o.tags.length === 0 && o.nodeMeta.length === 0 && o.filter === '' && !passing) return '';
  return JSON.stringify([o.pretty, passing, o.tags, o.nodeMeta, o.filter]);
}
