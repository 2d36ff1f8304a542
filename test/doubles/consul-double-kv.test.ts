// The Consul double's KV store through the `consul` client (CAS, flags, recurse, keys, raw), and
// the KV index rules: a key reports its ModifyIndex, a missing key the KV table index with a 404.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Consul from 'consul';
import { ConsulDouble } from '../support/consul-double/index.ts';
import { call } from './consul-helpers.ts';

let d: ConsulDouble;
let consul: Consul;

before(async () => {
  d = await ConsulDouble.start();
  consul = new Consul({ host: '127.0.0.1', port: d.port });
});
after(() => d.close());

type KvEntry = { Key: string; Value: string | null; Flags: number; CreateIndex: number; ModifyIndex: number; LockIndex: number };

test('set, get, delete with CAS through the consul client (a CAS miss resolves undefined)', async () => {
  assert.equal(await consul.kv.set('app/control', '{"mode":"hybrid"}'), true);
  const first = (await consul.kv.get('app/control')) as KvEntry;
  assert.equal(first.Value, '{"mode":"hybrid"}');
  assert.equal(first.CreateIndex, first.ModifyIndex);
  assert.deepEqual(d.kvGet('app/control')?.value.toString(), '{"mode":"hybrid"}');

  assert.equal(await consul.kv.set({ key: 'app/control', value: 'x', cas: 0 }), undefined, 'cas=0 on an existing key is a miss');
  assert.equal(await consul.kv.set({ key: 'app/control', value: 'x', cas: first.ModifyIndex + 1000 }), undefined);
  assert.equal(await consul.kv.set({ key: 'app/control', value: '{"mode":"consul-only"}', cas: first.ModifyIndex }), true);
  const second = (await consul.kv.get('app/control')) as KvEntry;
  assert.equal(second.Value, '{"mode":"consul-only"}');
  assert.ok(second.ModifyIndex > first.ModifyIndex, `${second.ModifyIndex} > ${first.ModifyIndex}`);
  assert.equal(second.CreateIndex, first.CreateIndex);
  assert.equal(await consul.kv.set({ key: 'app/fresh', value: 'v', cas: 0 }), true, 'cas=0 creates an absent key');

  assert.notEqual(await consul.kv.del({ key: 'app/control', cas: first.ModifyIndex }), true, 'a stale CAS delete fails');
  assert.notEqual(await consul.kv.get('app/control'), undefined, 'the key is still there');
  assert.equal(await consul.kv.del({ key: 'app/control', cas: second.ModifyIndex }), true);
  assert.equal(await consul.kv.get('app/control'), undefined, 'a missing key reads as undefined');
  assert.equal(d.kvGet('app/control'), null);
});

test('flags, empty values, recurse, keys with a separator, raw', async () => {
  d.kvSet('cfg/a', 'one', 42);
  d.kvSet('cfg/b/x', 'two');
  d.kvSet('cfg/b/y', '');
  d.kvSet('cfgs', 'outside');
  const a = (await call(d.url, '/v1/kv/cfg/a')).json<KvEntry[]>();
  assert.deepEqual(Object.keys(a[0]!), ['LockIndex', 'Key', 'Flags', 'Value', 'CreateIndex', 'ModifyIndex']);
  assert.equal(a[0]!.Flags, 42);
  assert.equal(Buffer.from(a[0]!.Value!, 'base64').toString(), 'one');
  assert.equal((await call(d.url, '/v1/kv/cfg/b/y')).json<KvEntry[]>()[0]!.Value, null, 'an empty value is null');

  const list = (await consul.kv.get({ key: 'cfg/', recurse: true })) as KvEntry[];
  assert.deepEqual(list.map((e) => e.Key), ['cfg/a', 'cfg/b/x', 'cfg/b/y']);
  assert.deepEqual(await consul.kv.keys({ key: 'cfg/', separator: '/' }), ['cfg/a', 'cfg/b/']);
  assert.deepEqual(await consul.kv.keys('cfg'), ['cfg/a', 'cfg/b/x', 'cfg/b/y', 'cfgs']);

  const raw = await call(d.url, '/v1/kv/cfg/a?raw');
  assert.deepEqual([raw.text, raw.headers['content-type']], ['one', 'text/plain']);

  const put = await call(d.url, '/v1/kv/cfg/c?flags=7', { method: 'PUT', body: 'seven' });
  assert.deepEqual([put.status, put.text, put.headers['content-type']], [200, 'true', 'application/json']);
  assert.equal(d.kvGet('cfg/c')?.flags, 7);
  const miss = await call(d.url, `/v1/kv/cfg/c?cas=1`, { method: 'PUT', body: 'x' });
  assert.equal(miss.text, 'false');

  const del = await call(d.url, '/v1/kv/cfg/b?recurse', { method: 'DELETE' });
  assert.equal(del.text, 'true');
  assert.deepEqual(await consul.kv.keys('cfg/'), ['cfg/a', 'cfg/c']);
  assert.equal((await call(d.url, '/v1/kv/cfg/b/?recurse')).status, 404);

  assert.equal((await call(d.url, '/v1/kv/')).text, 'Missing key name');
  assert.equal((await call(d.url, '/v1/kv/k?cas=1&acquire=s', { method: 'PUT' })).status, 400);
  const big = await call(d.url, '/v1/kv/big', { method: 'PUT', body: 'x'.repeat(512 * 1024 + 1) });
  assert.equal(big.status, 413);
});

test('indexes: a key reports its ModifyIndex; a missing key the KV table index (with a 404); lists the highest under the prefix', async () => {
  const setIdx = d.kvSet('idx/a', '1');
  d.register({ Node: 'unrelated', Address: '10.9.9.9' });
  const a = await call(d.url, '/v1/kv/idx/a');
  assert.equal(a.index, setIdx, 'other raft writes do not move a key');

  const otherIdx = d.kvSet('idx/b', '2');
  const missing = await call(d.url, '/v1/kv/idx/none');
  assert.deepEqual([missing.status, missing.text, missing.index], [404, '', otherIdx]);
  assert.equal(missing.headers['x-consul-knownleader'], 'true');

  const delIdx = d.kvDelete('idx/b');
  assert.equal((await call(d.url, '/v1/kv/idx/?recurse')).index, delIdx, 'a tombstone under the prefix counts');
  assert.equal((await call(d.url, '/v1/kv/idx/none')).index, delIdx);
  assert.equal(d.kvSet('idx/a', '1'), delIdx + 1, 'setting the same value still takes a raft index');
  assert.equal((await call(d.url, '/v1/kv/idx/a')).index, setIdx, 'but leaves the key as it was');
});

test('a fresh double never reports index 0', async () => {
  const fresh = await ConsulDouble.start();
  try {
    for (const path of ['/v1/kv/nothing', '/v1/kv/?recurse', '/v1/catalog/service/none', '/v1/health/service/none', '/v1/catalog/node/none']) {
      const r = await call(fresh.url, path);
      assert.ok(r.index >= 1, `${path}: ${r.index}`);
    }
  } finally {
    await fresh.close();
  }
});
