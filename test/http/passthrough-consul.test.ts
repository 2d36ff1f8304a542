// Live mode in front of the Consul double, with the real `consul` npm client as the caller: KV
// reads, CAS writes and blocking reads pass through with the caller's token as it was sent, agent
// registrations land in the upstream agent, the kill-switch hands out the upstream's own bytes,
// and an upstream that goes down is a 500 at once, then passes again once it is back.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Consul from 'consul';
import { ConsulDouble } from '../support/consul-double/index.ts';
import { eventually } from '../support/eventually.ts';
import { agentFrom, call, MESHED, UNMESHED, type Server } from './support.ts';
import { metricValue, STANDARD_REGISTRATIONS, startLiveServer, TestUpstream } from './passthrough-support.ts';

const TOKENS = { 'kv-writer': { keyRead: [''], keyWrite: ['app/'], agentWrite: true, serviceRead: ['*'], nodeRead: true } };

let double: ConsulDouble;
let s: Server;
let consul: Consul;
const agent = agentFrom(UNMESHED);

before(async () => {
  double = await ConsulDouble.start({ acl: { managementToken: 'management-secret', tokens: TOKENS } });
  for (const r of STANDARD_REGISTRATIONS) double.register(r);
  s = await startLiveServer(new TestUpstream(double.url));
  consul = new Consul({ host: '127.0.0.1', port: s.port, agent, defaults: { token: 'kv-writer' } });
});
after(async () => {
  agent.destroy();
  await s.close();
  await double.close();
});

/** The double's log entries for `path` since `from`. */
const logged = (path: string, from: number) => double.stats.log().filter((e) => e.path === path && e.at >= from);

test('KV: a CAS write, a read and a CAS miss go through with the caller token intact', async () => {
  const from = Date.now();
  assert.equal(await consul.kv.set({ key: 'app/config', value: 'v1', cas: 0 }), true);
  const got = (await consul.kv.get('app/config')) as { Value: string; ModifyIndex: number };
  assert.equal(got.Value, 'v1');
  assert.equal(await consul.kv.set({ key: 'app/config', value: 'v2', cas: got.ModifyIndex }), true);
  // A stale CAS index: Consul answers false, which the client turns into undefined.
  assert.equal(await consul.kv.set({ key: 'app/config', value: 'v3', cas: got.ModifyIndex }), undefined);
  assert.equal(double.kvGet('app/config')?.value.toString(), 'v2');
  const entries = logged('/v1/kv/app/config', from);
  assert.deepEqual(entries.map((e) => `${e.method} ${e.query['cas'] ?? '-'}`), ['PUT 0', 'GET -', `PUT ${got.ModifyIndex}`, `PUT ${got.ModifyIndex}`]);
  assert.ok(entries.every((e) => e.token === 'kv-writer'), 'every request carried the caller token');
  // Denied at the upstream for a token that may not write there: the upstream's own 403 text.
  const denied = await call(s.port, '/v1/kv/other/key', { method: 'PUT', body: 'x', headers: { 'X-Consul-Token': 'kv-writer' } });
  assert.equal(denied.status, 403);
  assert.match(denied.body, /Permission denied/);
  assert.equal((await call(s.port, '/v1/kv/app/config')).status, 403, 'no token: the anonymous token may not read, and Discovery adds none');
});

test('KV: a blocking read is held by the upstream and wakes with the new value', async () => {
  const first = (await consul.kv.get('app/config')) as { ModifyIndex: number };
  const from = Date.now();
  // index and wait reach the query string (the client's common options), though its types omit them.
  const blockingGet = { key: 'app/config', index: first.ModifyIndex, wait: '20s' };
  const pending = consul.kv.get(blockingGet) as Promise<{ Value: string; ModifyIndex: number }>;
  await eventually(() => assert.equal(double.stats.parked(), 1), 'the read to park at the upstream');
  assert.equal(await metricValue(s, 'discovery_passthrough_inflight', { blocking: 'true' }), 1);
  double.kvSet('app/config', 'v4');
  const woke = await pending;
  assert.equal(woke.Value, 'v4');
  assert.ok(woke.ModifyIndex > first.ModifyIndex, 'a higher index');
  const [entry] = logged('/v1/kv/app/config', from);
  assert.equal(entry?.query['index'], String(first.ModifyIndex));
  assert.equal(entry?.token, 'kv-writer');
  await eventually(async () => assert.equal(await metricValue(s, 'discovery_passthrough_inflight', { blocking: 'true' }), 0), 'nothing left in flight');
});

test('agent registration and deregistration reach the upstream agent', async () => {
  await consul.agent.service.register({ id: 'orders-1', name: 'orders', port: 8080, check: { name: 'orders alive', ttl: '30s', timeout: '1s' } });
  const direct = await call(double.port, '/v1/agent/services', { headers: { 'X-Consul-Token': 'management-secret' } });
  assert.deepEqual(Object.keys(JSON.parse(direct.body) as object), ['orders-1']);
  const viaDiscovery = (await consul.agent.service.list()) as Record<string, { Port: number }>;
  assert.equal(viaDiscovery['orders-1']?.Port, 8080);
  await consul.agent.check.pass({ id: 'service:orders-1', note: 'ok' });
  await consul.agent.service.deregister('orders-1');
  assert.equal((await call(double.port, '/v1/agent/services', { headers: { 'X-Consul-Token': 'management-secret' } })).body, '{}');
  assert.deepEqual(s.core.test.app.agent.services(), [], 'nothing registered in the local emulation');
});

/** Raw headers without those that differ between any two answers (Date) or belong to the connection. */
function comparable(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (!['date', 'connection', 'keep-alive'].includes(raw[i]!.toLowerCase())) out.push(raw[i]!, raw[i + 1]!);
  return out;
}

test("kill-switch on: the reads Discovery answers (fast path included) are the upstream's own bytes", async () => {
  await s.core.control.setMode('consul-only', { actor: 'test', reason: 'test' });
  try {
    const headers = { 'X-Consul-Token': 'kv-writer' };
    for (const path of ['/v1/health/service/reviews', '/v1/catalog/service/reviews?tag=v1', '/v1/catalog/services', '/v1/health/service/nope?passing', '/v1/catalog/nodes?pretty']) {
      const via = await call(s.port, path, { from: MESHED, headers });
      const direct = await call(double.port, path, { headers });
      assert.equal(via.status, direct.status, path);
      assert.equal(via.body, direct.body, path);
      assert.deepEqual(comparable(via.rawHeaders), comparable(direct.rawHeaders), path);
    }
  } finally {
    await s.core.control.setMode('hybrid', { actor: 'test', reason: 'test' });
  }
  // Off again: the meshed caller gets Discovery's mesh answer, which Consul cannot give.
  const mine = await call(s.port, '/v1/health/service/reviews', { from: MESHED });
  assert.match(mine.body, /10\.96\.0\.10/);
});

test('an upstream that goes down: 500 naming it at once; back up: passthrough resumes', async () => {
  await double.faults.down();
  try {
    const r = await call(s.port, '/v1/kv/app/config', { headers: { 'X-Consul-Token': 'kv-writer' } });
    assert.equal(r.status, 500);
    assert.match(r.body, new RegExp(`at ${double.url.replace(/[.]/g, '\\.')}: ECONNREFUSED`));
    // Discovery's own reads keep being answered from its catalog.
    assert.equal((await call(s.port, '/v1/health/service/ratings', { from: UNMESHED })).status, 200);
  } finally {
    await double.faults.up();
  }
  const back = await call(s.port, '/v1/kv/app/config', { headers: { 'X-Consul-Token': 'kv-writer' } });
  assert.equal(back.status, 200);
});
