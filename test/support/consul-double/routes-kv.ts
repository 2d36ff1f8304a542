// /v1/kv/*: agent/kvs_endpoint.go over the KV store. A key's read reports its ModifyIndex; a
// missing key reports the KV table index (kvs and tombstones) and answers 404 with the index
// headers, so a blocking query on it works; `recurse` and `keys` report the highest index under
// the prefix (tombstones included). PUT answers `true`, or the CAS outcome; values over
// Consul's kv_max_value_size (512 KiB) are a 413.

import { readBody, type Exchange } from './exchange.ts';
import { kvKeyEntry } from './index-table.ts';
import { readOptions, serveRead } from './reads.ts';
import { renderKv } from './render.ts';
import { subtree, type Route, type RouteContext } from './route-types.ts';
import { ConsulHttpError } from './types.ts';

export const KV_MAX_VALUE_SIZE = 512 * 1024;

/** strconv.ParseUint failures surface as Consul's 500 with Go's wording. */
function uintParam(x: Exchange, name: string): number | null {
  if (!x.has(name)) return null;
  const raw = x.query.get(name) ?? '';
  if (!/^\d+$/.test(raw)) throw new ConsulHttpError(500, `strconv.ParseUint: parsing "${raw}": invalid syntax`);
  return Number(raw);
}

function conflicting(x: Exchange, flags: readonly string[]): void {
  if (flags.filter((f) => x.has(f)).length > 1) throw new ConsulHttpError(400, `Conflicting flags: ${x.query.toString()}\n`);
}

function get(x: Exchange, { state, faults }: RouteContext, key: string): void {
  const opts = readOptions(x, state.datacenter);
  const authz = state.acl.resolve(x.token(), true);
  const kv = state.kv;
  if (x.has('keys')) {
    const sep = x.query.get('separator') ?? x.query.get('seperator') ?? '';
    serveRead(x, state, faults, opts, {
      wakeOn: [],
      kvPrefix: key,
      index: () => kv.keys(key, sep).index,
      answer: () => {
        const { index, keys } = kv.keys(key, sep);
        const allowed = keys.filter((k) => authz.keyRead(k));
        if (allowed.length === 0 && key !== '') return { status: 404, index, filteredByAcls: allowed.length < keys.length };
        return { status: 200, index, json: allowed, filteredByAcls: allowed.length < keys.length };
      },
    });
    return;
  }
  if (x.has('recurse')) {
    serveRead(x, state, faults, opts, {
      wakeOn: [],
      kvPrefix: key,
      index: () => kv.list(key).index,
      answer: () => {
        const { index, entries } = kv.list(key);
        const allowed = entries.filter((e) => authz.keyRead(e.key));
        const filteredByAcls = allowed.length < entries.length;
        if (allowed.length === 0) return { status: 404, index, filteredByAcls };
        return { status: 200, index, json: allowed.map(renderKv), filteredByAcls };
      },
    });
    return;
  }
  if (key === '') throw new ConsulHttpError(400, 'Missing key name');
  if (!authz.keyRead(key)) throw authz.denied('key:read', key, true);
  const index = (): number => kv.get(key)?.modifyIndex ?? kv.tableIndex();
  serveRead(x, state, faults, opts, {
    wakeOn: [kvKeyEntry(key)],
    index,
    answer: () => {
      const e = kv.get(key);
      if (!e) return { status: 404, index: index() };
      if (x.has('raw')) {
        const body = e.value ?? Buffer.alloc(0);
        const headers: [string, string][] = [
          ['Content-Length', String(body.length)],
          ['Content-Type', 'text/plain'],
          ['X-Content-Type-Options', 'nosniff'],
          ['Content-Security-Policy', 'sandbox'],
        ];
        return { status: 200, index: e.modifyIndex, raw: { body, headers } };
      }
      return { status: 200, index: e.modifyIndex, json: [renderKv(e)] };
    },
  });
}

async function put(x: Exchange, { state }: RouteContext, key: string): Promise<void> {
  if (key === '') throw new ConsulHttpError(400, 'Missing key name');
  conflicting(x, ['cas', 'acquire', 'release']);
  const flags = uintParam(x, 'flags') ?? 0;
  const cas = uintParam(x, 'cas');
  const length = Number(x.req.headers['content-length'] ?? 0);
  if (length > KV_MAX_VALUE_SIZE) {
    throw new ConsulHttpError(413, `Request body(${length} bytes) too large, max size: ${KV_MAX_VALUE_SIZE} bytes. See https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size.`);
  }
  if (x.has('acquire') || x.has('release')) {
    throw new ConsulHttpError(500, `rpc error making call: invalid session "${x.query.get('acquire') ?? x.query.get('release') ?? ''}"`);
  }
  const body = await readBody(x.req, KV_MAX_VALUE_SIZE);
  const authz = state.acl.resolve(x.token(), true);
  if (!authz.keyWrite(key)) throw authz.denied('key:write', key, true);
  const value = body.length > 0 ? body : null;
  const { result } = state.write((w) => (cas === null ? (state.kv.set(key, value, flags, w), true) : state.kv.cas(key, value, flags, cas, w)));
  x.send(200, [['Content-Type', 'application/json']], String(result));
}

function del(x: Exchange, { state }: RouteContext, key: string): void {
  conflicting(x, ['recurse', 'cas']);
  const recurse = x.has('recurse');
  if (!recurse && key === '') throw new ConsulHttpError(400, 'Missing key name');
  const cas = uintParam(x, 'cas');
  const authz = state.acl.resolve(x.token(), true);
  if (!authz.keyWrite(key)) throw authz.denied('key:write', key, true);
  const { result } = state.write((w) => {
    if (recurse) state.kv.deleteTree(key, w);
    else if (cas !== null) return state.kv.deleteCas(key, cas, w);
    else state.kv.delete(key, w);
    return true;
  });
  x.send(200, [['Content-Type', 'application/json']], String(result));
}

export const kvRoutes: readonly Route[] = [
  subtree('/v1/kv/', ['GET', 'PUT', 'DELETE'], (x, ctx, key) => {
    if (x.method === 'PUT') return put(x, ctx, key);
    if (x.method === 'DELETE') return del(x, ctx, key);
    return get(x, ctx, key);
  }),
];
