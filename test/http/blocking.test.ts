// Blocking-query lifecycle: disconnect frees the waiter, drain answers everything at once,
// catalog-wide queries wake on Consul changes only, and a change elsewhere does not wake a query.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { catalog, standardWorld } from '../support/world-fixtures.ts';
import { call, indexOf, json, MESHED, startServer, UNMESHED, type Server } from './support.ts';
import { eventually } from '../support/eventually.ts';
import { blockingTimeoutMs, DEFAULT_WAIT_MS, MAX_WAIT_MS } from '../../src/frontends/http/blocking.ts';

let s: Server;
before(async () => {
  s = await startServer();
});
after(() => s.close());

async function waiterGauge(): Promise<number> {
  const m = await s.core.registry.getSingleMetric('discovery_http_blocking_waiters')!.get();
  return m.values[0]?.value ?? 0;
}

function withRatings(port: number) {
  const w = standardWorld();
  return {
    consul: catalog([
      { service: 'reviews', node: 'haproxy-reviews-1', address: '10.1.0.1', port: 9080, tags: ['v1', 'primary'] },
      { service: 'reviews', node: 'haproxy-reviews-2', address: '10.1.0.2', port: 9080, tags: ['v1'] },
      { service: 'ratings', node: 'haproxy-ratings-1', address: '10.1.1.1', port },
      { service: 'details', node: 'haproxy-details-1', address: '10.1.2.1', port: 9080 },
    ]),
    kube: w.kube,
  };
}

test('timeout: default 5m, capped at 10m, jitter below wait/16', () => {
  assert.equal(blockingTimeoutMs(0, () => 0), DEFAULT_WAIT_MS);
  assert.equal(blockingTimeoutMs(-5, () => 0), DEFAULT_WAIT_MS);
  assert.equal(blockingTimeoutMs(60 * 60_000, () => 0), MAX_WAIT_MS);
  assert.ok(blockingTimeoutMs(16_000, () => 0.999999) < 17_000);
  assert.equal(blockingTimeoutMs(2000, () => 0), 2000);
});

test('client disconnect frees the parked query (gauge drops)', async () => {
  const first = await call(s.port, '/v1/health/service/reviews', { from: UNMESHED });
  const ac = new AbortController();
  const pending = call(s.port, `/v1/health/service/reviews?index=${indexOf(first)}&wait=60s`, { from: UNMESHED, signal: ac.signal }).catch((e: Error) => e);
  await eventually(() => assert.equal(s.front.waiting(), 1), 'query parked');
  assert.equal(await waiterGauge(), 1);
  ac.abort();
  await pending;
  await eventually(() => assert.equal(s.front.waiting(), 0), 'waiter freed');
  assert.equal(await waiterGauge(), 0);
});

test('drain answers every parked query at once with the current index', async () => {
  const a = await call(s.port, '/v1/health/service/reviews', { from: MESHED });
  const b = await call(s.port, '/v1/catalog/services', { from: UNMESHED });
  const parked = [
    call(s.port, `/v1/health/service/reviews?index=${indexOf(a)}&wait=10m`, { from: MESHED }),
    call(s.port, `/v1/health/service/reviews?index=${indexOf(a)}&wait=10m`, { from: MESHED }),
    call(s.port, `/v1/catalog/services?index=${indexOf(b)}&wait=10m`, { from: UNMESHED }),
  ];
  await eventually(() => assert.equal(s.front.waiting(), 3), 'three parked');
  const started = Date.now();
  assert.equal(s.front.drain(), 3);
  const answers = await Promise.all(parked);
  assert.ok(Date.now() - started < 2000, 'drain is immediate');
  assert.deepEqual(answers.map((r) => r.status), [200, 200, 200]);
  assert.equal(indexOf(answers[0]!), indexOf(a));
  assert.equal(answers[0]!.body, a.body);
  assert.equal(indexOf(answers[2]!), indexOf(b));
  assert.equal(s.front.waiting(), 0);
});

test('a change to another service does not answer; a change to this one does', async () => {
  const first = await call(s.port, '/v1/health/service/reviews', { from: UNMESHED });
  let done = false;
  const pending = call(s.port, `/v1/health/service/reviews?index=${indexOf(first)}&wait=30s`, { from: UNMESHED }).then((r) => {
    done = true;
    return r;
  });
  await eventually(() => assert.equal(s.front.waiting(), 1), 'parked');
  s.core.setWorld(withRatings(9999)); // ratings changed, reviews did not
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(done, false, 'unrelated change must not answer');
  assert.equal(s.front.waiting(), 1);
  // Now a change to reviews' answer for this caller: the kill-switch touches everyone.
  await s.core.control.setMode('consul-only', { actor: 't', reason: 't' });
  const r = await pending;
  assert.ok(indexOf(r) > indexOf(first));
  // The unmeshed caller's body did not change: a spurious wake-up with a higher index, as Consul allows.
  assert.equal(r.body, first.body);
  await s.core.control.setMode('hybrid', { actor: 't', reason: 't' });
  s.core.setWorld(standardWorld());
});

test('catalog/services blocks until Consul data changes', async () => {
  const first = await call(s.port, '/v1/catalog/services');
  const pending = call(s.port, `/v1/catalog/services?index=${indexOf(first)}&wait=30s`);
  await eventually(() => assert.equal(s.front.waiting(), 1), 'parked');
  s.core.setWorld(withRatings(9081));
  const r = await pending;
  assert.ok(indexOf(r) > indexOf(first));
  assert.deepEqual(Object.keys(json(r)), ['details', 'ratings', 'reviews']);
  s.core.setWorld(standardWorld());
});

test('an index above the current one blocks until the timeout and returns the lower current index', async () => {
  const first = await call(s.port, '/v1/health/service/reviews', { from: UNMESHED });
  const r = await call(s.port, `/v1/health/service/reviews?index=${indexOf(first) + 1_000_000}&wait=200ms`, { from: UNMESHED });
  assert.equal(r.status, 200);
  assert.equal(indexOf(r), indexOf(first));
});

test('close() answers parked queries before the server stops', async () => {
  const other = await startServer();
  const first = await call(other.port, '/v1/health/service/reviews');
  const pending = call(other.port, `/v1/health/service/reviews?index=${indexOf(first)}&wait=10m`);
  await eventually(() => assert.equal(other.front.waiting(), 1), 'parked');
  await other.close();
  const r = await pending;
  assert.equal(r.status, 200);
  assert.equal(indexOf(r), indexOf(first));
});
