// The upstream Consul source's bounds: connections never above the budget at 220 services, the
// token bucket pacing every watch against an upstream that answers at once with a new index every
// time (and a new index is not a change), the token never leaving the X-Consul-Token header, and
// an abort that ends every request, timer and socket.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { createLogger } from '../../src/platform/log.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { ConsulUpstreamSource } from '../../src/sources/consul-upstream/consul-upstream-source.ts';
import type { ConsulCatalog } from '../../src/world/consul-types.ts';
import { eventually } from '../support/eventually.ts';
import { fleet, harness, instancesOf, metric } from './consul-upstream-harness.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

for (const { maxConnections, own } of [
  { maxConnections: undefined, own: 63 },
  { maxConnections: 10, own: 9 },
]) {
  test(`connections: at 220 services, ${maxConnections ?? 'the default 64'} max connections -> never more than ${own} open (one left for the control key)`, async (t) => {
    const hot = Array.from({ length: 60 }, (_, i) => `svc-${i}`);
    const h = await harness({
      registrations: fleet(220, 2, 8),
      source: { ...(maxConnections ? { maxConnections } : {}), hotServices: () => hot, probeSweepMs: 1000 },
    });
    t.after(() => h.close());
    let sampled = 0;
    const sampler = setInterval(() => (sampled = Math.max(sampled, h.double.stats.openConnections())), 5);
    t.after(() => clearInterval(sampler));
    await h.synced(20_000);
    const budget = h.source.budget;
    assert.equal(budget.own, own);
    await eventually(() => assert.ok(h.double.stats.parked() >= 3 + budget.hot, 'the wide and hot watches parked'), 'every watch parked');
    // Keep the pool busy: node checks name every service on a node, service checks one each.
    for (let round = 0; round < 6; round++) {
      h.double.setCheckStatus(`haproxy-${round % 8}`, 'serfHealth', round % 2 === 0 ? 'critical' : 'passing');
      for (let s = 0; s < 20; s++) h.double.setCheckStatus(`haproxy-${(s * 7 + round) % 8}`, `service:svc-${s * 7 + round}-0`, round % 2 === 0 ? 'warning' : 'passing');
      await sleep(250);
    }
    const since = h.deliveries().length;
    await h.delivered(since - 1, (c) => assert.equal(instancesOf(c, 'svc-5').find((i) => i.service.ID === 'svc-5-0')!.checks.find((x) => x.CheckID === 'service:svc-5-0')!.Status, 'passing'), 'the last round');
    const max = h.double.stats.maxOpenConnections();
    assert.ok(max <= own, `at most ${own} connections, saw ${max}`);
    assert.ok(sampled <= own, 'sampled connections within the budget');
    assert.ok(max >= 3 + budget.hot, `the wide and hot watches were all open (${max})`);
    assert.ok((h.source.status().detail?.['connections'] as number) <= own, 'status detail: connections within the budget');
    assert.ok((await metric(h.registry, 'discovery_upstream_connections')) <= own, 'connections gauge within the budget');
    assert.equal(h.source.status().detail?.['hot'], budget.hot);
    t.diagnostic(`220 services, budget ${JSON.stringify(budget)}: at most ${max} connections open at the double`);
  });
}

/** An upstream that answers every request at once with a fresh index and the same body. */
async function chattyUpstream(): Promise<{ url: string; requests: { path: string; query: Record<string, string>; at: number }[]; close: () => Promise<void> }> {
  let index = 100;
  const requests: { path: string; query: Record<string, string>; at: number }[] = [];
  const node = { ID: '', Node: 'n1', Address: '10.0.0.1', Datacenter: 'dc1', TaggedAddresses: null, Meta: null, CreateIndex: 1, ModifyIndex: 1 };
  const instance = { Node: node, Service: { ID: 'web-1', Service: 'web', Tags: [], Address: '', Meta: null, Port: 80, Weights: { Passing: 1, Warning: 1 }, EnableTagOverride: false, CreateIndex: 2, ModifyIndex: 2 }, Checks: [] };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://upstream');
    requests.push({ path: url.pathname, query: Object.fromEntries(url.searchParams), at: Date.now() });
    index++;
    let header = String(index);
    let body: unknown;
    if (url.pathname === '/v1/catalog/services') body = { web: [] };
    else if (url.pathname === '/v1/health/state/any') body = [];
    else if (url.pathname === '/v1/catalog/nodes') {
      body = [node];
      header = '0'; // an upstream that reports index 0: the client must block on 1, never on 0
    } else if (url.pathname === '/v1/health/service/web') body = url.searchParams.has('filter') ? [] : [instance];
    else {
      res.statusCode = 404;
      res.end('not here');
      return;
    }
    res.setHeader('X-Consul-Index', header);
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(body));
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

test('token bucket: an upstream that answers at once with a new index every time gets at most 2 + 1 per 250 ms from the service list and health watches, 2 + 1 per 500 ms from the node list; a new index with the same content is not delivered; index 0 is never blocked on', async (t) => {
  const up = await chattyUpstream();
  t.after(() => up.close());
  const abort = new AbortController();
  t.after(() => abort.abort());
  const deliveries: ConsulCatalog[] = [];
  const source = new ConsulUpstreamSource({ url: up.url, token: null, datacenter: 'dc1', clock: systemClock, log: createLogger('silent'), registry: new Registry(), waitMs: 1000, probeSweepMs: 60_000 });
  const started = Date.now();
  await source.start({ data: (c) => deliveries.push(c), stale: () => assert.fail('never stale'), error: (e) => assert.fail(e) }, abort.signal);
  await eventually(() => assert.equal(deliveries.length, 1), 'the first delivery');
  await sleep(2500);
  abort.abort();
  const elapsed = Date.now() - started;
  assert.equal(deliveries.length, 1, 'every answer had a new index, none a new content');
  for (const [path, refillMs] of [['/v1/catalog/services', 250], ['/v1/health/state/any', 250], ['/v1/catalog/nodes', 500]] as const) {
    const allowed = 2 + Math.ceil(elapsed / refillMs) + 1;
    const n = up.requests.filter((r) => r.path === path).length;
    assert.ok(n >= 4 && n <= allowed, `${path}: ${n} requests in ${elapsed} ms (at most ${allowed})`);
  }
  assert.deepEqual(up.requests.filter((r) => r.query['index'] === '0'), []);
  const nodes = up.requests.filter((r) => r.path === '/v1/catalog/nodes');
  assert.equal(nodes[0]!.query['index'], undefined, 'the first read is a plain one');
  assert.ok(nodes.slice(1).every((r) => r.query['index'] === '1'), 'then it blocks on 1');
  t.diagnostic(`chatty upstream: ${up.requests.length} requests in ${elapsed} ms, 1 delivery`);
});

test("the token goes out as X-Consul-Token on every request and nowhere else: not in logs, errors, metrics or status; a 4xx is not an outage", async (t) => {
  const token = 'b1946ac9-2fb8-44e7-8fd0-s3cr3t-t0k3n';
  const h = await harness({ double: { acl: { managementToken: token } }, registrations: fleet(4, 1, 2), source: { token } });
  t.after(() => h.close());
  await h.synced();
  assert.deepEqual(instancesOf(h.latest(), 'svc-0').length, 1, 'the token reads everything');
  h.double.faults.fail(2, 403, '/v1/health/service/svc-1');
  h.double.faults.malformed('not-json', '/v1/health/service/svc-2');
  h.double.setCheckStatus('haproxy-1', 'service:svc-1-0', 'critical');
  h.double.setCheckStatus('haproxy-0', 'service:svc-2-0', 'critical');
  await eventually(() => assert.ok(h.logs.some((l) => l.msg.includes('HTTP 403: rpc error making call: ACL not found')), 'a warning with the 403'), 'the 403 logged');
  await h.delivered(0, (c) => assert.equal(instancesOf(c, 'svc-1')[0]!.checks.find((x) => x.CheckID === 'service:svc-1-0')!.Status, 'critical'), 'read again after the 403s');
  assert.equal(h.source.contact().reachable, true, 'an upstream that answers 4xx is reachable');
  h.double.faults.malformed(null);
  for (const e of h.double.stats.log()) assert.equal(e.token, token, `${e.path} carried the token`);
  const seen = [
    JSON.stringify(h.logs),
    h.calls.map((c) => (c.kind === 'error' ? c.err.message : '')).join('\n'),
    await h.registry.metrics(),
    JSON.stringify(h.source.status()),
    h.source.name,
  ].join('\n');
  assert.equal(seen.includes(token), false);
  assert.equal(seen.includes('s3cr3t'), false);

  // A token the upstream does not know: every request is refused; the problem is logged per endpoint, the token never.
  const wrong = await harness({ double: { acl: { managementToken: token } }, registrations: fleet(2, 1, 1), source: { token: `${token}-old` } });
  t.after(() => wrong.close());
  await eventually(() => assert.ok(wrong.logs.filter((l) => l.msg.includes('ACL not found')).length >= 3, 'three warnings with the 403'), 'each wide watch logged the 403');
  assert.equal(wrong.source.status().synced, false);
  assert.equal(JSON.stringify(wrong.logs).includes('s3cr3t'), false);
});

test('abort after the sync: every request, timer and socket ends, nothing is heard after it', async (t) => {
  const h = await harness({ registrations: fleet(10, 1, 2), source: { hotWatches: 2, hotServices: () => ['svc-1', 'svc-2'] } });
  t.after(() => h.close());
  await h.synced();
  h.double.setCheckStatus('haproxy-0', 'service:svc-4-0', 'critical');
  await eventually(() => assert.ok(h.double.stats.parked() >= 5, 'five queries parked'), 'watches parked');
  h.abort.abort();
  await eventually(() => assert.equal(h.double.stats.openConnections(), 0), 'no socket open at the double');
  await eventually(() => assert.equal(h.clock.pending, 0), 'no timer left');
  assert.equal(h.source.status().detail?.['connections'], 0);
  const calls = h.calls.length;
  h.double.setCheckStatus('haproxy-0', 'service:svc-6-0', 'critical');
  h.double.register({ Node: 'haproxy-0', Address: '10.0.0.1', Service: { Service: 'late' } });
  await h.double.faults.down();
  await sleep(1200);
  assert.equal(h.calls.length, calls, 'no listener call after the abort');
});

test('abort during the first sync (the upstream hangs): no delivery ever, every socket and timer ends', async (t) => {
  const h = await harness({ registrations: fleet(4, 1, 2), start: false });
  t.after(() => h.close());
  h.double.faults.hang(true);
  await h.source.start({ data: () => assert.fail('no delivery'), stale: () => assert.fail('not synced, never stale'), error: () => undefined }, h.abort.signal);
  await eventually(() => assert.ok(h.double.stats.requests() >= 3, 'three requests arrived'), 'the wide watches asked');
  h.abort.abort();
  await eventually(() => assert.equal(h.double.stats.openConnections(), 0), 'no socket open at the double');
  await eventually(() => assert.equal(h.clock.pending, 0), 'no timer left');
  h.double.faults.hang(false);
  await sleep(300);

  // Aborted before it starts: no request at all.
  const before = h.double.stats.requests();
  const aborted = new AbortController();
  aborted.abort();
  const other = new ConsulUpstreamSource({ url: h.double.url, token: null, datacenter: 'dc1', clock: systemClock, log: createLogger('silent'), registry: new Registry() });
  await other.start({ data: () => assert.fail(), stale: () => assert.fail(), error: () => assert.fail() }, aborted.signal);
  await sleep(100);
  assert.equal(h.double.stats.requests(), before);
});
