// The metrics added for the dashboard and the alerts: the fast histogram writes what prom-client's
// Histogram writes for the same observations; a running Discovery times its DNS and HTTP answers
// (blocking queries apart) and exports since when its mode holds and how many pins are in force.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, Registry } from 'prom-client';
import { FastHistogram } from '../../src/platform/fast-histogram.ts';
import { portOf, testApp } from '../support/app.ts';
import { queryBytes, tcpExchange, udpExchange } from '../dns/support.ts';
import { adminRequest, sampleValue } from './scrape.ts';

test('FastHistogram exposition is the same as prom-client Histogram for the same observations', async () => {
  const buckets = [0.001, 0.01, 0.1, 1];
  const values = [0.0005, 0.001, 0.002, 0.05, 0.5, 0.5, 3, 0];
  const a = new Registry();
  const b = new Registry();
  const reference = new Histogram({ name: 'h', help: 'x', labelNames: ['t'], buckets, registers: [a] });
  const fast = new FastHistogram({ name: 'h', help: 'x', labelNames: ['t'], buckets, registry: b });
  for (const v of values) {
    reference.observe({ t: 'udp' }, v);
    fast.series({ t: 'udp' }).observe(v);
  }
  reference.observe({ t: 'tcp' }, 0.02);
  fast.series({ t: 'tcp' }).observe(0.02);
  assert.equal(await b.metrics(), await a.metrics());
  fast.reset();
  assert.match(await b.metrics(), /^h_count\{t="udp"\} 0$/m, 'reset zeroes every series');
});

test('a running Discovery times DNS (per transport) and HTTP answers (per route, blocking apart)', async () => {
  const t = await testApp({ listen: true });
  const dnsPort = portOf(t.app.addresses.dns);
  const httpPort = portOf(t.app.addresses.http);
  await udpExchange(dnsPort, queryBytes('reviews.service.consul'));
  await udpExchange(dnsPort, queryBytes('nothing-here.service.consul'));
  await tcpExchange(dnsPort, [queryBytes('reviews.service.consul')]);
  const plain = await fetch(`http://127.0.0.1:${httpPort}/v1/health/service/reviews`);
  assert.equal(plain.status, 200);
  const index = plain.headers.get('x-consul-index');
  // A blocking query that times out after its (short) wait is counted apart from the plain reads.
  const blocking = await fetch(`http://127.0.0.1:${httpPort}/v1/health/service/reviews?index=${index}&wait=50ms`);
  assert.equal(blocking.status, 200);
  await blocking.arrayBuffer();
  // A route fastify serves (not the fast path).
  assert.equal((await fetch(`http://127.0.0.1:${httpPort}/v1/catalog/services`)).status, 200);

  const text = await (await adminRequest(t.app, '/metrics')).text();
  assert.equal(sampleValue(text, 'discovery_dns_request_duration_seconds_count', { transport: 'udp' }), 2);
  assert.equal(sampleValue(text, 'discovery_dns_request_duration_seconds_count', { transport: 'tcp' }), 1);
  assert.equal(sampleValue(text, 'discovery_dns_request_duration_seconds_bucket', { transport: 'udp', le: '+Inf' }), 2);
  const route = '/v1/health/service/*';
  assert.equal(sampleValue(text, 'discovery_http_request_duration_seconds_count', { route, blocking: 'false' }), 1);
  assert.equal(sampleValue(text, 'discovery_http_request_duration_seconds_count', { route, blocking: 'true' }), 1);
  assert.ok((sampleValue(text, 'discovery_http_request_duration_seconds_sum', { route, blocking: 'true' }) ?? 0) >= 0.04, 'the blocking read waited about 50 ms');
  assert.equal(sampleValue(text, 'discovery_http_request_duration_seconds_count', { route: '/v1/catalog/services', blocking: 'false' }), 1);
  await t.stop();
});

test('the mode-changed time and the pins are exported, and follow the kill-switch and pin/unpin', async () => {
  const t = await testApp({ listen: true });
  const scrape = async () => (await adminRequest(t.app, '/metrics')).text();
  let text = await scrape();
  assert.equal(sampleValue(text, 'discovery_mode_changed_timestamp_seconds', {}), 0, 'never changed');
  assert.equal(sampleValue(text, 'discovery_pins', { scope: 'service' }), 0);

  const before = Date.now() / 1000;
  const put = await adminRequest(t.app, '/v1/control/mode', { method: 'PUT', body: { mode: 'consul-only', reason: 'test' } });
  assert.equal(put.status, 200);
  const after = Date.now() / 1000;
  text = await scrape();
  const since = sampleValue(text, 'discovery_mode_changed_timestamp_seconds', {}) ?? -1;
  assert.ok(since >= Math.floor(before) - 1 && since <= after + 1, `kill-switch time ${since} within [${before}, ${after}]`);
  assert.equal(sampleValue(text, 'discovery_mode', { mode: 'consul-only' }), 1);

  assert.equal((await adminRequest(t.app, '/v1/pins', { method: 'PUT', body: { service: 'reviews', reason: 'test' } })).status, 200);
  assert.equal((await adminRequest(t.app, '/v1/pins', { method: 'PUT', body: { service: 'details', caller: 'bookinfo/productpage', reason: 'test' } })).status, 200);
  text = await scrape();
  assert.equal(sampleValue(text, 'discovery_pins', { scope: 'service' }), 1);
  assert.equal(sampleValue(text, 'discovery_pins', { scope: 'caller' }), 1);
  assert.equal((await adminRequest(t.app, '/v1/pins', { method: 'DELETE', body: { service: 'reviews' } })).status, 200);
  assert.equal(sampleValue(await scrape(), 'discovery_pins', { scope: 'service' }), 0);
  assert.equal(sampleValue(text, 'discovery_control_backend_reachable', {}), 1);
  await t.stop();
});
