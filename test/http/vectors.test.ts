// HTTP vectors 1-19 of Consul's behaviour (docs/consul-contract.md), over real sockets.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testCore } from '../support/core.ts';
import { catalog, standardWorld } from '../support/world-fixtures.ts';
import type { CheckStatus } from '../../src/world/consul-types.ts';
import { call, indexOf, json, startServer, UNMESHED, type Server } from './support.ts';
import { eventually } from '../support/eventually.ts';

function webWorld(bStatus: CheckStatus, extra = false) {
  const w = standardWorld();
  const consul = catalog([
    { service: 'web', node: 'node-a', address: '10.0.0.1', port: 8080, tags: ['v1', 'primary', 'x'], nodeStatus: 'passing' },
    { service: 'web', node: 'node-b', address: '10.0.0.2', port: 8080, tags: ['v1'], status: bStatus, nodeStatus: 'passing' },
    ...(extra ? [{ service: 'web', node: 'node-c', address: '10.0.0.3', port: 8080 }] : []),
    { service: 'reviews', node: 'haproxy-reviews-1', address: '10.1.0.1', port: 9080, tags: ['v1', 'primary'] },
  ]);
  return { consul, kube: w.kube };
}

type Entry = { Node: { Node: string }; Service: { Tags: string[] }; Checks: unknown[] };
const nodesOf = (body: Entry[]) => body.map((e) => e.Node.Node).sort();

let s: Server;
before(async () => {
  s = await startServer({ core: await testCore({ world: webWorld('critical'), http: { random: () => 0 } }) });
});
after(() => s.close());

test('1: ?passing drops an instance with a critical check; index present and >= 1', async () => {
  const r = await call(s.port, '/v1/health/service/web?passing', { from: UNMESHED });
  assert.equal(r.status, 200);
  assert.deepEqual(nodesOf(json(r)), ['node-a']);
  assert.ok(indexOf(r) >= 1);
});

test('2: a warning check is dropped by ?passing too; without it both come back', async () => {
  s.core.setWorld(webWorld('warning'));
  assert.deepEqual(nodesOf(json(await call(s.port, '/v1/health/service/web?passing=1'))), ['node-a']);
  assert.deepEqual(nodesOf(json(await call(s.port, '/v1/health/service/web'))), ['node-a', 'node-b']);
  s.core.setWorld(webWorld('critical'));
});

test('3: ?passing=false does not filter; ?passing=abc is a 400', async () => {
  assert.deepEqual(nodesOf(json(await call(s.port, '/v1/health/service/web?passing=false'))), ['node-a', 'node-b']);
  const bad = await call(s.port, '/v1/health/service/web?passing=abc');
  assert.equal(bad.status, 400);
  assert.equal(bad.body, 'Invalid value for ?passing');
  assert.match(String(bad.headers['content-type']), /^text\/plain/);
});

test('4: unknown service is 200 [] with index and known-leader headers', async () => {
  const r = await call(s.port, '/v1/catalog/service/does-not-exist');
  assert.equal(r.status, 200);
  assert.equal(r.body, '[]');
  assert.ok(indexOf(r) >= 1);
  assert.equal(r.headers['x-consul-knownleader'], 'true');
  assert.equal(r.headers['x-consul-lastcontact'], '0');
  assert.equal((await call(s.port, '/v1/health/service/does-not-exist')).body, '[]');
});

test('5: unknown node is 200 null with index headers', async () => {
  const r = await call(s.port, '/v1/catalog/node/does-not-exist');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'null');
  assert.ok(indexOf(r) >= 1);
  assert.equal(r.headers['x-consul-knownleader'], 'true');
});

test('6: blocking without a change returns at the timeout with the same index and body', async () => {
  const first = await call(s.port, '/v1/health/service/web');
  const started = Date.now();
  const r = await call(s.port, `/v1/health/service/web?index=${indexOf(first)}&wait=300ms`);
  assert.equal(indexOf(r), indexOf(first));
  assert.equal(r.body, first.body);
  assert.ok(Date.now() - started < 5000, 'returns at its timeout');
});

test('7: blocking wakes on a new instance with a higher index and the instance', async () => {
  const first = await call(s.port, '/v1/health/service/web');
  const pending = call(s.port, `/v1/health/service/web?index=${indexOf(first)}&wait=60s`);
  await eventually(() => assert.equal(s.front.waiting(), 1), 'the query to park');
  s.core.setWorld(webWorld('critical', true));
  const r = await pending;
  assert.ok(indexOf(r) > indexOf(first));
  assert.deepEqual(nodesOf(json(r)), ['node-a', 'node-b', 'node-c']);
  s.core.setWorld(webWorld('critical'));
});

test('8: index=0 never blocks', async () => {
  const started = Date.now();
  const r = await call(s.port, '/v1/catalog/services?index=0&wait=10s');
  assert.equal(r.status, 200);
  assert.ok(Date.now() - started < 5000);
});

test('9: wait must be a Go duration', async () => {
  for (const w of ['abc', '60']) {
    const r = await call(s.port, `/v1/catalog/services?wait=${w}&index=5`);
    assert.equal(r.status, 400);
    assert.equal(r.body, 'Invalid wait time');
  }
  const ok = await call(s.port, '/v1/catalog/services?wait=60000ms');
  assert.equal(ok.status, 200);
});

test('10: index must be an unsigned integer', async () => {
  for (const i of ['abc', '-1', '1.5']) {
    const r = await call(s.port, `/v1/catalog/services?index=${i}`);
    assert.equal(r.status, 400);
    assert.equal(r.body, 'Invalid index');
  }
});

test('11: stale with consistent is a 400', async () => {
  const r = await call(s.port, '/v1/catalog/services?stale&consistent');
  assert.equal(r.status, 400);
  assert.equal(r.body, 'Cannot specify ?stale with ?consistent, conflicting semantics.');
  for (const q of ['stale', 'stale=', 'stale=1']) {
    const ok = await call(s.port, `/v1/catalog/services?${q}`);
    assert.equal(ok.headers['x-consul-effective-consistency'], 'stale');
  }
  assert.equal((await call(s.port, '/v1/catalog/services?consistent')).headers['x-consul-effective-consistency'], 'consistent');
  assert.equal((await call(s.port, '/v1/catalog/services')).headers['x-consul-effective-consistency'], 'leader');
});

test('12: unknown datacenter is a 500', async () => {
  const r = await call(s.port, '/v1/catalog/services?dc=nope');
  assert.equal(r.status, 500);
  assert.equal(r.body, 'No path to datacenter');
  assert.equal((await call(s.port, '/v1/catalog/services?dc=dc1')).status, 200);
});

test('13: other methods are 405 with Allow; OPTIONS is 200 empty', async () => {
  for (const method of ['POST', 'PUT', 'DELETE', 'HEAD']) {
    const r = await call(s.port, '/v1/catalog/services', { method });
    assert.equal(r.status, 405, method);
    assert.equal(r.headers['allow'], 'OPTIONS,GET');
    if (method !== 'HEAD') assert.equal(r.body, `method ${method} not allowed`);
  }
  const o = await call(s.port, '/v1/catalog/services', { method: 'OPTIONS' });
  assert.equal(o.status, 200);
  assert.equal(o.body, '');
  assert.equal(o.headers['allow'], 'OPTIONS,GET');
  const p = await call(s.port, '/v1/agent/service/register', { method: 'POST' });
  assert.equal(p.status, 405);
  assert.equal(p.headers['allow'], 'OPTIONS,PUT');
});

test('14: repeated tags are ANDed and case-insensitive', async () => {
  const r = await call(s.port, '/v1/catalog/service/web?tag=V1&tag=primary');
  const body = json<Array<{ Node: string }>>(r);
  assert.deepEqual(body.map((e) => e.Node), ['node-a']);
  const h = json<Entry[]>(await call(s.port, '/v1/health/service/web?tag=v1'));
  assert.deepEqual(nodesOf(h), ['node-a', 'node-b']);
});

test('15: catalog/services is an object of arrays, tags deduplicated, [] when untagged', async () => {
  const body = json<Record<string, string[]>>(await call(s.port, '/v1/catalog/services'));
  assert.deepEqual(Object.keys(body), ['reviews', 'web']);
  assert.deepEqual(body['web']!.sort(), ['primary', 'v1', 'x']);
  s.core.setWorld(webWorld('critical', true));
  const again = json<Record<string, string[]>>(await call(s.port, '/v1/catalog/services'));
  assert.deepEqual(again['web']!.sort(), ['primary', 'v1', 'x']);
  s.core.setWorld(standardWorld());
  const std = json<Record<string, string[]>>(await call(s.port, '/v1/catalog/services'));
  assert.deepEqual(std['ratings'], []);
  s.core.setWorld(webWorld('critical'));
});

test('16: JSON replies are application/json (no charset); errors are text/plain', async () => {
  for (const p of ['/v1/catalog/services', '/v1/health/service/web', '/v1/catalog/nodes', '/v1/agent/self', '/v1/status/leader', '/v1/catalog/datacenters']) {
    assert.equal((await call(s.port, p)).headers['content-type'], 'application/json', p);
  }
  for (const p of ['/v1/catalog/services?index=x', '/v1/health/service/web?passing=zz', '/v1/catalog/service/']) {
    const r = await call(s.port, p);
    assert.equal(r.status, 400, p);
    assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
  }
});

test('17: agent/self carries the datacenter as a string', async () => {
  const body = json<{ Config: { Datacenter: unknown; NodeName: unknown } }>(await call(s.port, '/v1/agent/self'));
  assert.equal(body.Config.Datacenter, 'dc1');
  assert.equal(typeof body.Config.NodeName, 'string');
});

test('18: status/leader is a JSON string', async () => {
  const r = await call(s.port, '/v1/status/leader');
  assert.match(r.body, /^"[0-9.]+:8300"$/);
  assert.deepEqual(json(await call(s.port, '/v1/status/peers')), [JSON.parse(r.body)]);
});

test('19: unknown /v1 path is a 404 with Consul text; other paths get the /v1 hint', async () => {
  const r = await call(s.port, '/v1/nope');
  assert.equal(r.status, 404);
  assert.ok(r.body.startsWith('Invalid URL path: not a recognized HTTP API endpoint'));
  const other = await call(s.port, '/favicon.ico');
  assert.equal(other.status, 404);
  assert.ok(other.body.includes("ensure the path starts with '/v1/'"));
});
