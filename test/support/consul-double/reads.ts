// The read path shared by catalog, health and KV endpoints: Consul's common query parameters,
// blocking queries (index/wait, jitter, wake-ups, timeout with the current index), and the
// headers every read carries (agent/http.go setMeta).

import { atLeastOne, type AgentState } from './agent-state.ts';
import type { Waiter } from './blocking.ts';
import type { Exchange } from './exchange.ts';
import { stripFields, type FaultState } from './faults.ts';
import { compileFilter, FilterError, type FilterExpr } from './filter.ts';
import type { Schema } from './filter-schemas.ts';
import { goJson } from './json.ts';
import { ConsulHttpError } from './types.ts';
import { parseGoDuration } from '../../../src/platform/go-duration.ts';

export const DEFAULT_WAIT_MS = 5 * 60_000;
export const MAX_WAIT_MS = 10 * 60_000;

export interface ReadOptions {
  readonly consistency: 'leader' | 'stale' | 'consistent';
  readonly minIndex: number;
  readonly waitMs: number | null;
  readonly pretty: boolean;
}

export interface ReadAnswer {
  readonly status: 200 | 404;
  /** Before the ≥ 1 clamp. */
  readonly index: number;
  /** The JSON body; absent for a body-less 404. */
  readonly json?: unknown;
  /** A raw body instead of JSON (KV `?raw`), with its own headers. */
  readonly raw?: { readonly body: Buffer; readonly headers: ReadonlyArray<readonly [string, string]> };
  readonly filteredByAcls?: boolean;
  readonly headers?: ReadonlyArray<readonly [string, string]>;
}

export interface ReadQuery {
  /** Index entries (and KV key entries) whose change may move `index()`. */
  readonly wakeOn: readonly string[];
  readonly kvPrefix?: string;
  /** The index this read would report now (cheap: no body). */
  index(): number;
  answer(): ReadAnswer;
}

/** Consul's parse order: consistency flags, then wait, then index, then the datacenter (at RPC time). */
export function readOptions(x: Exchange, datacenter: string): ReadOptions {
  const stale = x.has('stale');
  const consistent = x.has('consistent');
  if (stale && consistent) throw new ConsulHttpError(400, 'Cannot specify ?stale with ?consistent, conflicting semantics.');
  let consistency: ReadOptions['consistency'] = stale ? 'stale' : consistent ? 'consistent' : 'leader';
  const maxStale = x.query.get('max_stale');
  if (maxStale) {
    const ms = parseGoDuration(maxStale);
    if (ms === null) throw new ConsulHttpError(400, `Invalid max_stale value "${maxStale}"`);
    if (ms > 0 && !consistent) consistency = 'stale';
  }
  if (x.has('leader')) consistency = 'leader';
  let waitMs: number | null = null;
  const wait = x.query.get('wait');
  if (wait) {
    waitMs = parseGoDuration(wait);
    if (waitMs === null) throw new ConsulHttpError(400, 'Invalid wait time');
  }
  let minIndex = 0;
  const index = x.query.get('index');
  if (index) {
    if (!/^\d+$/.test(index) || BigInt(index) > 18446744073709551615n) throw new ConsulHttpError(400, 'Invalid index');
    minIndex = Number(index);
  }
  const dc = x.query.get('dc');
  if (dc && dc !== datacenter) throw new ConsulHttpError(500, 'No path to datacenter');
  return { consistency, minIndex, waitMs, pretty: x.has('pretty') };
}

/** The `?filter` of this request for elements of `schema`; a bad expression is Consul's 500. */
export function requestFilter(x: Exchange, schema: Schema): FilterExpr | null {
  const src = x.query.get('filter');
  if (!src) return null;
  try {
    return compileFilter(src, schema);
  } catch (err) {
    if (err instanceof FilterError) throw new ConsulHttpError(500, `rpc error making call: ${err.message}`);
    throw err;
  }
}

/** `?node-meta=key:value`, repeatable, all must match. */
export function nodeMetaFilters(x: Exchange): ReadonlyArray<readonly [string, string]> {
  return x.query.getAll('node-meta').map((kv) => {
    const at = kv.indexOf(':');
    return at < 0 ? [kv, ''] : [kv.slice(0, at), kv.slice(at + 1)];
  });
}

export function nodeMetaMatches(meta: Readonly<Record<string, string>> | null, filters: ReadonlyArray<readonly [string, string]>): boolean {
  return filters.every(([k, v]) => meta !== null && Object.hasOwn(meta, k) && meta[k] === v);
}

/** The wait a parked query gets: `wait` (default 5 min), capped at 10 min and maxWaitMs, plus up to wait/16 of jitter. */
export function blockingTimeoutMs(waitMs: number | null, maxWaitMs: number, random: () => number = Math.random): number {
  let t = waitMs === null || waitMs <= 0 ? DEFAULT_WAIT_MS : waitMs;
  t = Math.min(t, MAX_WAIT_MS, maxWaitMs);
  return t + Math.floor((random() * t) / 16);
}

/** Answers at once, or parks the query until its index passes the client's or the wait ends. */
export function serveRead(x: Exchange, state: AgentState, faults: FaultState, opts: ReadOptions, q: ReadQuery): void {
  if (opts.minIndex === 0 || atLeastOne(q.index()) > opts.minIndex) {
    writeAnswer(x, faults, opts, q.answer());
    return;
  }
  let timer: NodeJS.Timeout | undefined = undefined;
  const waiter: Waiter = {
    wakeOn: q.wakeOn,
    ...(q.kvPrefix !== undefined ? { kvPrefix: q.kvPrefix } : {}),
    ready: () => atLeastOne(q.index()) > opts.minIndex,
    finish: () => {
      clearTimeout(timer);
      writeAnswer(x, faults, opts, q.answer());
    },
    drop: () => {
      clearTimeout(timer);
      x.req.socket.destroy();
    },
  };
  state.waiters.add(waiter);
  timer = setTimeout(() => {
    if (state.waiters.remove(waiter)) writeAnswer(x, faults, opts, q.answer());
  }, blockingTimeoutMs(opts.waitMs, state.maxWaitMs));
  x.res.once('close', () => {
    clearTimeout(timer);
    state.waiters.remove(waiter);
  });
}

function writeAnswer(x: Exchange, faults: FaultState, opts: ReadOptions, a: ReadAnswer): void {
  const malformed = faults.malformedFor(x.path);
  const headers: [string, string][] = [['X-Consul-Effective-Consistency', opts.consistency]];
  if (malformed === 'bad-index') headers.push(['X-Consul-Index', 'not-a-number']);
  else if (malformed !== 'no-index') headers.push(['X-Consul-Index', String(atLeastOne(a.index))]);
  headers.push(['X-Consul-Knownleader', 'true'], ['X-Consul-Lastcontact', '0']);
  if (a.filteredByAcls) headers.push(['X-Consul-Results-Filtered-By-Acls', 'true']);
  for (const h of a.headers ?? []) headers.push([h[0], h[1]]);
  if (a.raw) {
    x.send(a.status, [...headers, ...a.raw.headers], a.raw.body);
    return;
  }
  if (a.json === undefined) {
    x.send(a.status, headers);
    return;
  }
  headers.push(['Content-Type', 'application/json']);
  if (malformed === 'not-json') {
    x.send(a.status, headers, goJson(a.json).slice(0, 12) + '\u0000{not json');
    return;
  }
  x.send(a.status, headers, goJson(malformed === 'missing-fields' ? stripFields(a.json) : a.json, opts.pretty));
}
