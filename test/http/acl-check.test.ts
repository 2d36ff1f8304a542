// Live mode with the ACL check, in front of the Consul double with ACLs on (default deny):
// Discovery answers from its own catalog only for a token the upstream lets see everything the
// answer shows, and passes every other request through so the upstream answers it as Consul does
// for that token. Verdicts are cached per token hash for aclCacheTtlMs, and no token is ever
// logged or put in a metric.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/platform/log.ts';
import { ConsulDouble } from '../support/consul-double/index.ts';
import { eventually } from '../support/eventually.ts';
import { ManualClock } from '../support/manual-clock.ts';
import { catalog, standardWorld } from '../support/world-fixtures.ts';
import { call, indexOf, MESHED, UNMESHED, type Server } from './support.ts';
import { metricValue, STANDARD_REGISTRATIONS, startLiveServer, TestUpstream } from './passthrough-support.ts';

const TTL_MS = 30_000;
const TOKENS = {
  'reader-secret': { serviceRead: ['*'], nodeRead: true },
  'reviews-secret': { serviceRead: ['reviews'], nodeRead: true },
  'no-nodes-secret': { serviceRead: ['*'] },
};
const SECRETS = [...Object.keys(TOKENS), 'management-secret', 'unknown-secret'];

let double: ConsulDouble;
let s: Server;
const upstream = new TestUpstream('', { aclCheck: true, aclCacheTtlMs: TTL_MS });
const clock = new ManualClock();
const logLines: string[] = [];

before(async () => {
  double = await ConsulDouble.start({ acl: { managementToken: 'management-secret', tokens: TOKENS } });
  for (const r of STANDARD_REGISTRATIONS) double.register(r);
  upstream.url = double.url;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString());
      done();
    },
  });
  s = await startLiveServer(upstream, { clock, log: createLogger('trace', sink) });
});
after(async () => {
  await s.close();
  await double.close();
});

/** The double's record of ACL probes: unfiltered stale reads of `path`. */
const probes = (path: string) => double.stats.log().filter((e) => e.path === path && 'stale' in e.query && !('index' in e.query));
const withToken = (token: string) => ({ headers: { 'X-Consul-Token': token } });
const MESH_ADDRESS = /10\.96\.0\.10/;

test('a token that may read the service is answered by Discovery (the mesh answer), after one probe the upstream answers unfiltered', async () => {
  const r = await call(s.port, '/v1/health/service/reviews', { from: MESHED, ...withToken('reader-secret') });
  assert.equal(r.status, 200);
  assert.match(r.body, MESH_ADDRESS, "Discovery's own answer");
  const seen = probes('/v1/health/service/reviews');
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.token, 'reader-secret', 'the probe asks about the caller token');
  // The same token sent the two other ways Consul reads it: the cached verdict, no second probe.
  assert.match((await call(s.port, '/v1/health/service/reviews?token=reader-secret', { from: MESHED })).body, MESH_ADDRESS);
  assert.match((await call(s.port, '/v1/catalog/service/reviews', { from: MESHED, headers: { Authorization: 'Bearer reader-secret' } })).body, MESH_ADDRESS);
  assert.equal(probes('/v1/health/service/reviews').length, 1);
  assert.equal(await metricValue(s, 'discovery_acl_checks_total', { result: 'allowed' }), 1);
});

test("a token the upstream filters gets the upstream's own answer, byte for byte", async () => {
  // reviews-secret reads reviews only: reviews is Discovery's answer, ratings is the upstream's filtered one.
  assert.match((await call(s.port, '/v1/health/service/reviews', { from: MESHED, ...withToken('reviews-secret') })).body, MESH_ADDRESS);
  const via = await call(s.port, '/v1/health/service/ratings', { from: MESHED, ...withToken('reviews-secret') });
  const direct = await call(double.port, '/v1/health/service/ratings', withToken('reviews-secret'));
  assert.equal(via.status, 200);
  assert.equal(via.body, '[]');
  assert.equal(via.body, direct.body);
  assert.equal(via.headers['x-consul-results-filtered-by-acls'], 'true');
  assert.equal(via.headers['x-consul-index'], direct.headers['x-consul-index']);
  // A blocking read holding one of Discovery's indexes is answered by the upstream at once, with its own index.
  const held = await call(s.port, `/v1/health/service/ratings?index=${indexOf(await call(s.port, '/v1/health/service/reviews', withToken('reader-secret')))}&wait=30s`, withToken('reviews-secret'));
  assert.equal(held.status, 200);
  assert.equal(held.headers['x-consul-index'], direct.headers['x-consul-index']);
  // The service list spans every service: filtered for this token, so the upstream's list.
  const services = await call(s.port, '/v1/catalog/services', withToken('reviews-secret'));
  assert.deepEqual(Object.keys(JSON.parse(services.body) as object), ['reviews']);
  // Instances on nodes the token may not read are filtered too.
  const noNodes = await call(s.port, '/v1/health/service/reviews', { from: MESHED, ...withToken('no-nodes-secret') });
  assert.equal(noNodes.body, '[]');
  assert.ok(await metricValue(s, 'discovery_passthrough_requests_total', { reason: 'acl' }) >= 3, 'passed through for ACLs');
  assert.ok(await metricValue(s, 'discovery_acl_checks_total', { result: 'filtered' }) >= 3, 'filtered probes counted');
});

test("an unknown token gets the upstream's 403; no token is probed as none and gets the anonymous token's answer", async () => {
  const unknown = await call(s.port, '/v1/health/service/reviews', { from: MESHED, ...withToken('unknown-secret') });
  assert.equal(unknown.status, 403);
  assert.match(unknown.body, /ACL not found/);
  assert.equal(await metricValue(s, 'discovery_acl_checks_total', { result: 'forbidden' }), 1);
  const before = probes('/v1/health/service/details').length;
  const anonymous = await call(s.port, '/v1/health/service/details', { from: UNMESHED });
  assert.equal(anonymous.status, 200);
  assert.equal(anonymous.body, '[]', 'the anonymous token reads nothing');
  const probe = probes('/v1/health/service/details').slice(before);
  assert.deepEqual(probe.map((p) => p.token), [null], 'probed with no token');
});

test('node views need both node and service read: catalog/nodes is local for reviews-secret, health/state is not', async () => {
  const nodes = await call(s.port, '/v1/catalog/nodes', withToken('reviews-secret'));
  assert.equal(nodes.status, 200);
  assert.equal(nodes.headers['x-consul-results-filtered-by-acls'], undefined);
  // Discovery's node list holds the HAProxy nodes only; the upstream's would also hold its own agent node.
  assert.ok(!nodes.body.includes('agent-1'), "Discovery's own answer");
  const state = await call(s.port, '/v1/health/state/any', withToken('reviews-secret'));
  assert.equal(state.headers['x-consul-results-filtered-by-acls'], 'true', "the upstream's filtered answer");
});

test('verdicts are reused for aclCacheTtlMs, then the token is probed again', async () => {
  const count = () => probes('/v1/health/service/ratings').filter((p) => p.token === 'reader-secret').length;
  await call(s.port, '/v1/health/service/ratings', withToken('reader-secret'));
  assert.equal(count(), 1);
  await clock.advance(TTL_MS - 1);
  await call(s.port, '/v1/health/service/ratings', withToken('reader-secret'));
  assert.equal(count(), 1, 'still fresh');
  await clock.advance(2);
  await call(s.port, '/v1/health/service/ratings', withToken('reader-secret'));
  assert.equal(count(), 2, 'expired: probed again');
});

test('a blocking read parks locally on the cached verdict and its wake-up probes nothing', async () => {
  const first = await call(s.port, '/v1/health/service/ratings', { from: UNMESHED, ...withToken('reader-secret') });
  const before = probes('/v1/health/service/ratings').length;
  const pending = call(s.port, `/v1/health/service/ratings?index=${indexOf(first)}&wait=30s`, { from: UNMESHED, ...withToken('reader-secret') });
  await eventually(() => assert.equal(s.front.waiting(), 1), 'the query to park in Discovery');
  const w = standardWorld();
  s.core.setWorld({
    consul: catalog([
      { service: 'reviews', node: 'haproxy-reviews-1', address: '10.1.0.1', port: 9080, tags: ['v1', 'primary'] },
      { service: 'reviews', node: 'haproxy-reviews-2', address: '10.1.0.2', port: 9080, tags: ['v1'] },
      { service: 'ratings', node: 'haproxy-ratings-1', address: '10.1.1.1', port: 9081 },
      { service: 'details', node: 'haproxy-details-1', address: '10.1.2.1', port: 9080 },
    ]),
    kube: w.kube,
  });
  const woke = await pending;
  assert.ok(indexOf(woke) > indexOf(first), 'woke with a higher index');
  assert.match(woke.body, /9081/);
  assert.equal(probes('/v1/health/service/ratings').length, before, 'no probe for the wake-up or the parked query');
  s.core.setWorld(standardWorld());
});

test('upstream out of reach: a token allowed before keeps its local answers for a grace period; an unchecked token is a 500', async () => {
  await call(s.port, '/v1/health/service/details', withToken('reader-secret'));
  await clock.advance(TTL_MS + 1);
  await double.faults.down();
  upstream.reachable = false;
  upstream.lastContactAt = clock.now() - 1_000;
  try {
    const kept = await call(s.port, '/v1/health/service/details', withToken('reader-secret'));
    assert.equal(kept.status, 200);
    assert.equal(kept.headers['x-consul-knownleader'], 'false');
    assert.equal(kept.headers['x-consul-lastcontact'], '1000');
    const unchecked = await call(s.port, '/v1/health/service/details', withToken('reviews-secret'));
    assert.equal(unchecked.status, 500);
    assert.match(unchecked.body, /ECONNREFUSED/);
    assert.ok(await metricValue(s, 'discovery_acl_checks_total', { result: 'error' }) >= 2, 'failed probes counted');
  } finally {
    upstream.reachable = true;
    await double.faults.up();
  }
});

test('no token ever reaches a log line or a metric', async () => {
  assert.ok(logLines.length > 0, 'the warnings of the outage above were logged');
  for (const line of logLines) for (const secret of SECRETS) assert.ok(!line.includes(secret), `log line leaks a token: ${line}`);
  const metrics = await s.core.registry.metrics();
  for (const secret of SECRETS) assert.ok(!metrics.includes(secret), 'a metric leaks a token');
});
