// Blocking queries on the Consul double: a parked query wakes only for its own index, the wait
// ends with the current index (even one at or below the client's), a closed socket frees the
// waiter, a missing KV key blocks; and `consul.watch` over health.service and kv.get sees
// changes, index resets, and ends for good on a reply without X-Consul-Index.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Consul from 'consul';
import { ConsulDouble } from '../support/consul-double/index.ts';
import { eventually } from '../support/eventually.ts';
import { call, instance, settle } from './consul-helpers.ts';

let d: ConsulDouble;
let consul: Consul;

before(async () => {
  d = await ConsulDouble.start();
  consul = new Consul({ host: '127.0.0.1', port: d.port });
  d.register(instance('web', 'web-1', '10.0.0.1'));
  d.register(instance('api', 'api-1', '10.0.1.1'));
});
after(() => d.close());

test('a parked health query wakes for its own service only', async () => {
  const first = await call(d.url, '/v1/health/service/web');
  const parked = call(d.url, `/v1/health/service/web?index=${first.index}&wait=30s`);
  await eventually(() => assert.equal(d.stats.parked(), 1), 'query parked');

  d.register(instance('api', 'api-2', '10.0.1.2'));
  d.kvSet('unrelated', 'x');
  await settle();
  assert.equal(d.stats.parked(), 1, 'changes elsewhere leave it parked');

  const idx = d.setCheckStatus('web-1', 'service:web-web-1', 'critical');
  const woken = await parked;
  assert.equal(woken.index, idx);
  assert.equal(woken.json<Array<{ Checks: Array<{ Status: string }> }>>()[0]!.Checks[0]!.Status, 'critical');
  assert.equal(d.stats.parked(), 0);
  d.setCheckStatus('web-1', 'service:web-web-1', 'passing');
});

test('a node-level check change wakes every service on that node', async () => {
  d.register({ Node: 'web-1', Address: '10.0.0.1', Check: { CheckID: 'disk', Name: 'disk', Status: 'passing' } });
  const first = await call(d.url, '/v1/catalog/service/web');
  const parked = call(d.url, `/v1/catalog/service/web?index=${first.index}&wait=30s`);
  await eventually(() => assert.equal(d.stats.parked(), 1), 'query parked');
  const idx = d.setCheckStatus('web-1', 'disk', 'warning');
  assert.equal((await parked).index, idx);
});

test('the wait ends with the current index, also when the client asked above it', async () => {
  const now = await call(d.url, '/v1/health/service/api');
  const same = await call(d.url, `/v1/health/service/api?index=${now.index}&wait=100ms`);
  assert.deepEqual([same.status, same.index, same.text], [200, now.index, now.text]);
  const ahead = await call(d.url, `/v1/health/service/api?index=${now.index + 1000}&wait=100ms`);
  assert.equal(ahead.index, now.index, 'an index from the future returns the lower current one at the timeout');
  const atOnce = await call(d.url, `/v1/health/service/api?index=${now.index - 1}&wait=30s`);
  assert.equal(atOnce.index, now.index, 'an older index answers at once');
  assert.equal((await call(d.url, '/v1/health/service/api?index=0&wait=30s')).index, now.index, 'index=0 answers at once');
});

test('a closed client socket frees its waiter', async () => {
  const first = await call(d.url, '/v1/catalog/services');
  const ac = new AbortController();
  const pending = call(d.url, `/v1/catalog/services?index=${first.index}&wait=30s`, { signal: ac.signal }).catch((e: unknown) => e);
  await eventually(() => assert.equal(d.stats.parked(), 1), 'query parked');
  ac.abort();
  assert.ok((await pending) instanceof Error, 'the aborted request rejected');
  await eventually(() => assert.equal(d.stats.parked(), 0), 'waiter freed');
});

test('blocking on a missing KV key wakes when the key is created; a prefix list wakes on any key under it', async () => {
  const missing = await call(d.url, '/v1/kv/ctl/key');
  assert.equal(missing.status, 404);
  const onKey = call(d.url, `/v1/kv/ctl/key?index=${missing.index}&wait=30s`);
  const onPrefix = call(d.url, `/v1/kv/ctl/?recurse&index=${missing.index}&wait=30s`);
  await eventually(() => assert.equal(d.stats.parked(), 2), 'both parked');
  const idx = d.kvSet('ctl/other', 'x');
  assert.equal((await onPrefix).index, idx);
  await settle();
  assert.equal(d.stats.parked(), 1, 'the single-key query keeps waiting');
  const created = d.kvSet('ctl/key', 'v');
  const r = await onKey;
  assert.deepEqual([r.status, r.index], [200, created]);
});

test('consul.watch on health.service delivers changes, and a reset index as a change', async () => {
  // The watch calls the method with `this` set to { consul }, as the client's own watch() does.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const watch = consul.watch({ method: consul.health.service, options: { service: 'web', wait: '5s' } });
  const seen: Array<{ index: number; nodes: string[] }> = [];
  watch.on('change', (data: Array<{ Node: { Node: string } }>, res: { headers: Record<string, string> }) => {
    seen.push({ index: Number(res.headers['x-consul-index']), nodes: data.map((e) => e.Node.Node) });
  });
  watch.on('error', () => {});
  try {
    await eventually(() => assert.equal(seen.length, 1), 'first result');
    const idx = d.register(instance('web', 'web-2', '10.0.0.2'));
    await eventually(() => assert.deepEqual(seen.at(-1), { index: idx, nodes: ['web-1', 'web-2'] }), 'change delivered');

    d.faults.resetIndex(5);
    await eventually(() => assert.equal(seen.at(-1)!.index, 5), 'reset delivered as a change');
    assert.deepEqual(seen.at(-1)!.nodes, ['web-1', 'web-2']);
    const after = d.deregister({ Node: 'web-2' });
    assert.equal(after, 6, 'indexes grow again from the reset');
    await eventually(() => assert.deepEqual(seen.at(-1), { index: 6, nodes: ['web-1'] }), 'change after the reset');
  } finally {
    watch.end();
  }
});

test('consul.watch on kv.get: a missing key, then its value; no X-Consul-Index ends the watch for good', async () => {
  // The watch calls the method with `this` set to { consul }, as the client's own watch() does.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const watch = consul.watch({ method: consul.kv.get, options: { key: 'watched/control', wait: '5s' } });
  const values: Array<string | undefined> = [];
  const errors: Error[] = [];
  let ended = false;
  watch.on('change', (data: { Value?: string } | undefined) => values.push(data?.Value));
  watch.on('error', (err: Error) => errors.push(err));
  watch.on('end', () => (ended = true));
  try {
    await eventually(() => assert.deepEqual(values, [undefined]), 'missing key seen');
    d.kvSet('watched/control', 'on');
    await eventually(() => assert.deepEqual(values, [undefined, 'on']), 'value delivered');

    d.faults.malformed('no-index', '/v1/kv/watched/');
    d.kvSet('watched/control', 'off');
    await eventually(() => assert.equal(ended, true), 'watch ended');
    assert.match(errors[0]?.message ?? '', /Watch not supported/);
    assert.equal(watch.isRunning(), false);
  } finally {
    d.faults.malformed(null);
    watch.end();
  }
});
