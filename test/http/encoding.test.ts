// Units: Go durations, the bexpr filter subset, Go JSON encoding; and on the wire: gzip, ?pretty,
// header spelling, filters on real endpoints.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { parseGoDuration } from '../../src/platform/go-duration.ts';
import { compileFilter } from '../../src/frontends/http/filter.ts';
import { goJson } from '../../src/frontends/http/render.ts';
import { HttpError } from '../../src/frontends/http/params.ts';
import { testCore } from '../support/core.ts';
import { catalog, standardWorld } from '../support/world-fixtures.ts';
import { call, json, startServer, UNMESHED, type Server } from './support.ts';

test('Go durations', () => {
  const ok: Array<[string, number]> = [['10s', 10_000], ['120000ms', 120_000], ['5m', 300_000], ['1h', 3_600_000], ['1.5s', 1500], ['300us', 0.3], ['1h30m', 5_400_000], ['0', 0], ['.5s', 500], ['-2s', -2000], ['1µs', 0.001]];
  for (const [t, ms] of ok) assert.equal(parseGoDuration(t), ms, t);
  for (const t of ['60', 'abc', '', 's', '.s', '10x', '1.2.3s', '5 m', '-']) assert.equal(parseGoDuration(t), null, t);
});

const item = {
  Node: { Node: 'n1', Address: '10.0.0.1', Meta: { rack: 'r1', 'with space': 'y' } },
  Service: { ID: 'web-1', Tags: ['v1', 'prod'], Port: 8080, Meta: { version: '1.2' }, EnableTagOverride: false },
  Checks: [{ Status: 'passing', CheckID: 'serfHealth' }, { Status: 'warning', CheckID: 'service:web-1' }],
};
const fields = new Set(['Node', 'Service', 'Checks']);
const f = (e: string) => compileFilter(e, fields)(item);

test('filter: operators', () => {
  assert.equal(f('Service.Meta.version == "1.2"'), true);
  assert.equal(f('Service.Meta.version != "1.2"'), false);
  assert.equal(f('Service.Port == 8080'), true);
  assert.equal(f('Service.EnableTagOverride == false'), true);
  assert.equal(f('"prod" in Service.Tags'), true);
  assert.equal(f('v1 in Service.Tags'), true);
  assert.equal(f('"dev" not in Service.Tags'), true);
  assert.equal(f('Service.Tags contains "v1"'), true);
  assert.equal(f('Service.Tags not contains "v1"'), false);
  assert.equal(f('Service.Meta is not empty'), true);
  assert.equal(f('Service.Meta.missing is empty'), true);
  assert.equal(f('Service.Tags is empty'), false);
  assert.equal(f('Node.Node matches "^n[0-9]+$"'), true);
  assert.equal(f('Node.Node not matches `^x`'), true);
  assert.equal(f('Node.Meta["with space"] == y'), true);
  assert.equal(f('Checks.Status == warning'), true);
  assert.equal(f('Checks.Status != critical'), true);
  assert.equal(f('Node.Meta contains rack'), true);
});

test('filter: boolean structure and precedence', () => {
  assert.equal(f('Service.Port == 1 or Service.Port == 8080 and Node.Node == n1'), true);
  assert.equal(f('(Service.Port == 1 or Service.Port == 8080) and Node.Node == n2'), false);
  assert.equal(f('not Service.Port == 1'), true);
  assert.equal(f('not (Service.Port == 8080 and Node.Node == n1)'), false);
  assert.equal(f('Service.Tags contains "v1" and not "dev" in Service.Tags'), true);
});

test('filter: parse errors and unknown selectors are Consul 500s', () => {
  for (const e of ['Node.Address == 10.0.0.1', 'Node.Node == host-name', 'Service.Port ==', '(Node.Node == a', 'Node.Node === a', 'Nope == x', 'Node.Node matches "("', '"x" Service.Tags']) {
    assert.throws(() => compileFilter(e, fields), (err: unknown) => err instanceof HttpError && err.status === 500 && err.message.startsWith('Failed to create boolean expression evaluator: '), e);
  }
});

test('Go JSON: <>& and U+2028 escaped; pretty is 4-space indent with a newline', () => {
  assert.equal(goJson({ a: '<b>&\u2028' }, false), '{"a":"\\u003cb\\u003e\\u0026\\u2028"}');
  assert.equal(goJson({ a: [1] }, true), '{\n    "a": [\n        1\n    ]\n}\n');
});

let s: Server;
before(async () => {
  const w = standardWorld();
  const specs = Array.from({ length: 12 }, (_, i) => ({ service: 'big', node: `node-${String(i).padStart(2, '0')}`, address: `10.9.0.${i}`, port: 80, tags: [`t${i % 3}`], meta: { idx: String(i) } }));
  const consul = catalog([...specs, { service: 'reviews', node: 'haproxy-reviews-1', address: '10.1.0.1', port: 9080 }]);
  s = await startServer({ core: await testCore({ world: { consul, kube: w.kube } }) });
});
after(() => s.close());

test('gzip for bodies >= 1400 bytes when accepted, with Vary; small bodies plain', async () => {
  const gz = await call(s.port, '/v1/health/service/big', { from: UNMESHED, headers: { 'accept-encoding': 'gzip' } });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.equal(gz.headers['vary'], 'Accept-Encoding');
  const plain = await call(s.port, '/v1/health/service/big', { from: UNMESHED });
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.equal(gz.body, plain.body);
  const small = await call(s.port, '/v1/catalog/services', { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(small.headers['content-encoding'], undefined);
});

test('headers keep Consul spelling on the wire', async () => {
  const r = await call(s.port, '/v1/health/service/big');
  for (const h of ['X-Consul-Index', 'X-Consul-Knownleader', 'X-Consul-Lastcontact', 'X-Consul-Effective-Consistency', 'X-Consul-Default-Acl-Policy']) {
    assert.ok(r.rawHeaders.includes(h), h);
  }
  assert.equal(r.headers['x-consul-default-acl-policy'], 'allow');
});

test('filters, node-meta and pretty on real endpoints', async () => {
  const q = encodeURIComponent('Service.Meta.idx == "3" or "t2" in Service.Tags');
  const body = json<Array<{ Node: { Node: string } }>>(await call(s.port, `/v1/health/service/big?filter=${q}`));
  assert.deepEqual(body.map((e) => e.Node.Node), ['node-02', 'node-03', 'node-05', 'node-08', 'node-11']);
  const cat = json<Array<{ Node: string }>>(await call(s.port, `/v1/catalog/service/big?filter=${encodeURIComponent('ServiceMeta.idx == "4"')}`));
  assert.deepEqual(cat.map((e) => e.Node), ['node-04']);
  const svc = json<Record<string, string[]>>(await call(s.port, `/v1/catalog/services?filter=${encodeURIComponent('ServiceName == reviews')}`));
  assert.deepEqual(Object.keys(svc), ['reviews']);
  const nodes = json<Array<{ Node: string }>>(await call(s.port, `/v1/catalog/nodes?filter=${encodeURIComponent('Node matches "node-0[12]"')}`));
  assert.deepEqual(nodes.map((n) => n.Node), ['node-01', 'node-02']);
  assert.equal(json<unknown[]>(await call(s.port, '/v1/catalog/nodes?node-meta=consul-network-segment:')).length, 13);
  assert.equal((await call(s.port, '/v1/catalog/nodes?node-meta=rack:r9')).body, '[]');
  const pretty = await call(s.port, '/v1/catalog/services?pretty');
  assert.ok(pretty.body.endsWith('}\n') && pretty.body.includes('\n    "big"'));
  const checks = json<Array<{ CheckID: string }>>(await call(s.port, '/v1/health/checks/big?filter=' + encodeURIComponent('Node == "node-00"')));
  assert.deepEqual(checks.map((c) => c.CheckID), ['service:big-node-00']);
  assert.equal(json<unknown[]>(await call(s.port, '/v1/health/state/critical')).length, 0);
  assert.equal(json<unknown[]>(await call(s.port, '/v1/health/state/passing')).length, 13);
  assert.equal((await call(s.port, '/v1/health/state/bogus')).body, '[]');
  assert.equal(json<unknown[]>(await call(s.port, '/v1/health/node/node-01')).length, 1);
  const ns = json<{ Node: { Node: string }; Services: unknown[] }>(await call(s.port, '/v1/catalog/node-services/node-01'));
  assert.equal(ns.Node.Node, 'node-01');
  assert.equal(ns.Services.length, 1);
  assert.deepEqual(json(await call(s.port, '/v1/catalog/datacenters')), ['dc1']);
  const members = json<Array<{ Status: number }>>(await call(s.port, '/v1/agent/members'));
  assert.equal(members[0]!.Status, 1);
});
