// The Consul double at live-mode benchmark size: 2,000 services × 3 instances and 1,000 parked
// blocking queries. A change to one service wakes only the query on that service, and reading one
// service does not walk the whole catalog. Timings are reported as diagnostics, never asserted.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { ConsulDouble } from '../support/consul-double/index.ts';
import { eventually } from '../support/eventually.ts';
import { call, instance, settle } from './consul-helpers.ts';

const SERVICES = 2000;
const PER_SERVICE = 3;
const PARKED = 1000;

let d: ConsulDouble;
before(async () => {
  d = await ConsulDouble.start({ maxConnsPerClient: PARKED + 50 });
});
after(() => d.close());

const name = (i: number): string => `svc-${String(i).padStart(4, '0')}`;

test(`${SERVICES} services × ${PER_SERVICE} instances; ${PARKED} parked queries; one change wakes one query`, async (t) => {
  let start = performance.now();
  for (let i = 0; i < SERVICES; i++) {
    for (let j = 0; j < PER_SERVICE; j++) d.register(instance(name(i), `node-${i}-${j}`, `10.${i >> 8}.${i & 255}.${j + 1}`, { tags: [`t${j}`] }));
  }
  const registerMs = performance.now() - start;
  t.diagnostic(`register: ${SERVICES * PER_SERVICE} instances in ${registerMs.toFixed(0)} ms (${((registerMs * 1000) / (SERVICES * PER_SERVICE)).toFixed(1)} µs each)`);

  start = performance.now();
  const reads = 500;
  for (let i = 0; i < reads; i++) {
    const r = await call(d.url, `/v1/health/service/${name((i * 7) % SERVICES)}`);
    assert.equal(r.json<unknown[]>().length, PER_SERVICE);
  }
  t.diagnostic(`read one service over HTTP (new connection each): ${((performance.now() - start) / reads).toFixed(2)} ms each`);
  start = performance.now();
  const services = await call(d.url, '/v1/catalog/services');
  assert.equal(Object.keys(services.json<object>()).length, SERVICES);
  t.diagnostic(`/v1/catalog/services with ${SERVICES} services: ${(performance.now() - start).toFixed(1)} ms`);

  const indexes = await Promise.all(Array.from({ length: PARKED }, async (_, i) => (await call(d.url, `/v1/health/service/${name(i)}`)).index));
  const parked = indexes.map((index, i) => call(d.url, `/v1/health/service/${name(i)}?index=${index}&wait=60s`).catch((e: unknown) => e));
  await eventually(() => assert.equal(d.stats.parked(), PARKED), 'all queries parked', { timeoutMs: 20_000 });

  start = performance.now();
  const idx = d.setCheckStatus('node-42-1', `service:${name(42)}-node-42-1`, 'critical');
  const woken = await parked[42]!;
  t.diagnostic(`one check change → its parked query answered in ${(performance.now() - start).toFixed(1)} ms`);
  assert.ok(!(woken instanceof Error), 'answered');
  assert.equal((woken as { index: number }).index, idx);
  await settle();
  assert.equal(d.stats.parked(), PARKED - 1, 'every other query is still parked');

  d.register(instance(name(1999), 'node-new', '10.99.0.1'));
  d.kvSet('noise', 'x');
  await settle();
  assert.equal(d.stats.parked(), PARKED - 1, 'changes to unparked services and KV wake nothing');

  d.faults.dropParked();
  await Promise.all(parked);
  assert.equal(d.stats.parked(), 0);
});
