// The HTTP request counter is bumped through bound series (no label hashing per request) and added
// into prom-client's Counter when scraped: the exposition is prom-client's for the same counts, and
// a running Discovery counts each answer once, by route pattern and status, across scrapes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Registry } from 'prom-client';
import { FastCounter } from '../../src/platform/fast-counter.ts';
import { portOf, testApp } from '../support/app.ts';
import { adminRequest, sampleValue } from '../observability/scrape.ts';

test('FastCounter exposition is the same as prom-client Counter for the same increments', async () => {
  const a = new Registry();
  const b = new Registry();
  const reference = new Counter({ name: 'c', help: 'x', labelNames: ['route', 'code'], registers: [a] });
  const fast = new FastCounter({ name: 'c', help: 'x', labelNames: ['route', 'code'], registry: b });
  const ok = fast.series({ route: '/r', code: '200' });
  for (let i = 0; i < 5; i++) {
    reference.labels('/r', '200').inc();
    ok.inc();
  }
  reference.labels('/r', '404').inc();
  fast.series({ code: '404', route: '/r' }).inc();
  assert.equal(await b.metrics(), await a.metrics());
  // Counts between scrapes add up; a series asked for twice is the same series.
  reference.labels('/r', '200').inc();
  fast.series({ route: '/r', code: '200' }).inc();
  assert.equal(await b.metrics(), await a.metrics());
  assert.match(await b.metrics(), /^c\{route="\/r",code="200"\} 6$/m);
  fast.reset();
  ok.inc();
  assert.match(await b.metrics(), /^c\{route="\/r",code="200"\} 1$/m, 'reset drops the counts');
});

test('a running Discovery counts each answer once by route pattern and status, fast path and fastify routes alike', async () => {
  const t = await testApp({ listen: true });
  const http = `http://127.0.0.1:${portOf(t.app.addresses.http)}`;
  const scrape = async () => (await adminRequest(t.app, '/metrics')).text();
  const health = { route: '/v1/health/service/*', code: '200' };
  const services = { route: '/v1/catalog/services', code: '200' };

  for (let i = 0; i < 2; i++) assert.equal((await fetch(`${http}/v1/health/service/reviews`)).status, 200);
  assert.equal((await fetch(`${http}/v1/catalog/services`)).status, 200);
  assert.equal((await fetch(`${http}/v1/health/service/reviews?passing=maybe`)).status, 400);
  let text = await scrape();
  assert.equal(sampleValue(text, 'discovery_http_requests_total', health), 2);
  assert.equal(sampleValue(text, 'discovery_http_requests_total', { ...health, code: '400' }), 1);
  assert.equal(sampleValue(text, 'discovery_http_requests_total', services), 1);

  assert.equal((await fetch(`${http}/v1/health/service/reviews`)).status, 200);
  text = await scrape();
  assert.equal(sampleValue(text, 'discovery_http_requests_total', health), 3, 'counted since the last scrape, not twice');
  assert.equal(sampleValue(text, 'discovery_http_requests_total', services), 1);
  await t.stop();
});
