// The upstream Consul source's parts on their own: pacing (token bucket, backoff), the connection
// arithmetic, the health diff and the hot-set hysteresis, the conversion of upstream JSON, and
// the incremental catalog model.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff, TokenBucket } from '../../src/sources/consul-upstream/pacing.ts';
import { connectionBudget } from '../../src/sources/consul-upstream/consul-upstream-source.ts';
import { checkStates, chooseHot, diffCheckStates } from '../../src/sources/consul-upstream/change-detection.ts';
import { Conversion, MalformedAnswer, readCheckStates, readIndex, readJson, readServiceInstances, readServiceList, readServiceSummaries } from '../../src/sources/consul-upstream/upstream-json.ts';
import { CatalogModel } from '../../src/sources/consul-upstream/catalog-model.ts';
import { blockingTimeoutMs } from '../../src/sources/consul-upstream/blocking-watch.ts';
import { ManualClock } from '../support/manual-clock.ts';

test('token bucket: a burst of 2, then one request per 500 ms', async () => {
  const clock = new ManualClock();
  const bucket = new TokenBucket(clock);
  assert.equal(bucket.take(), 0);
  assert.equal(bucket.take(), 0);
  assert.equal(bucket.take(), 500);
  await clock.advance(200);
  assert.equal(bucket.take(), 300);
  await clock.advance(300);
  assert.equal(bucket.take(), 0);
  assert.equal(bucket.take(), 500);
  await clock.advance(10_000);
  assert.equal(bucket.take(), 0);
  assert.equal(bucket.take(), 0, 'refills up to the burst only');
  assert.ok(bucket.take() > 0, 'the burst is spent');
});

test('backoff: 1 s doubling up to 30 s, each delay jittered within [half, all] of its step; reset starts over', () => {
  const low = new Backoff(() => 0);
  const high = new Backoff(() => 0.999999);
  const lows = Array.from({ length: 8 }, () => low.next());
  const highs = Array.from({ length: 8 }, () => high.next());
  assert.deepEqual(lows, [500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
  assert.deepEqual(highs, [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  low.reset();
  assert.equal(low.next(), 500);
});

test('connections: 3 watches + hot + pool = maxConnections - 1 (the control key keeps one)', () => {
  assert.deepEqual(connectionBudget(64, 48), { own: 63, hot: 48, pool: 12 });
  assert.deepEqual(connectionBudget(64, 0), { own: 63, hot: 0, pool: 60 });
  assert.deepEqual(connectionBudget(64, 150), { own: 63, hot: 56, pool: 4 }, 'the hot set yields to a minimal pool');
  assert.deepEqual(connectionBudget(8, 48), { own: 7, hot: 0, pool: 4 });
  assert.throws(() => connectionBudget(7, 0), /at least 8/);
});

test('blocking requests time out after wait + wait/16 + slack, never before the server could answer', () => {
  assert.ok(blockingTimeoutMs(300_000) > 300_000 + 300_000 / 16, '5 min wait: beyond wait + wait/16');
  assert.ok(blockingTimeoutMs(1000) > 1000 + 1000 / 16, '1 s wait: beyond wait + wait/16');
  assert.ok(blockingTimeoutMs(1000) < 3000, '1 s wait: under 3 s');
});

const check = (node: string, checkId: string, status: string, serviceId = '', serviceName = '') => ({ node, checkId, status, serviceId, serviceName });

test('health diff: a service check names its service, a node check names its node; appear, disappear and status changes count', () => {
  const before = checkStates([check('n1', 'serfHealth', 'critical'), check('n2', 'service:web-1', 'warning', 'web-1', 'Web'), check('n3', 'service:db', 'critical', 'db', 'db')]);
  const after = checkStates([check('n2', 'service:web-1', 'critical', 'web-1', 'Web'), check('n3', 'service:db', 'critical', 'db', 'db'), check('n4', 'maint', 'critical'), check('n5', 'x', 'critical', 'x-1', '')]);
  const named = diffCheckStates(before, after);
  assert.deepEqual([...named.services].sort(), ['web']);
  assert.deepEqual([...named.nodes].sort(), ['n1', 'n4', 'n5'], 'n1 recovered, n4 in maintenance, n5 has a check without a service name');
  const same = diffCheckStates(after, checkStates(readCheckStates(JSON.parse(JSON.stringify([...after.values()].map((c) => ({ Node: c.node, CheckID: c.checkId, Status: c.status, ServiceID: c.serviceId, ServiceName: c.serviceName })))))));
  assert.equal(same.services.size + same.nodes.size, 0);
});

test('hot set: the best-ranked fill it; members stay while within 1.5x the capacity, so the set does not flap', () => {
  assert.deepEqual([...chooseHot(new Set(), ['a', 'b', 'c', 'd'], 2)], ['a', 'b']);
  // b slipped to 3rd (within 3 = 1.5 x 2): it stays, c does not push it out.
  assert.deepEqual([...chooseHot(new Set(['a', 'b']), ['a', 'c', 'b', 'd'], 2)].sort(), ['a', 'b']);
  // b slipped to 4th: out.
  assert.deepEqual([...chooseHot(new Set(['a', 'b']), ['a', 'c', 'd', 'b'], 2)].sort(), ['a', 'c']);
  assert.equal(chooseHot(new Set(['a']), ['a'], 0).size, 0);
});

test('index header: a non-negative integer, else a malformed answer naming it', () => {
  assert.equal(readIndex('42'), 42);
  assert.throws(() => readIndex(null), (e: unknown) => e instanceof MalformedAnswer && /no X-Consul-Index header/.test(e.message));
  assert.throws(() => readIndex('abc'), /X-Consul-Index header "abc" is not a number/);
  assert.throws(() => readIndex('-1'), /not a number/);
  assert.throws(() => readIndex('99999999999999999999'), /not a number/);
  assert.throws(() => readJson('{"a":'), (e: unknown) => e instanceof MalformedAnswer && /not JSON/.test(e.message));
});

const instance = (node: string, id: string, extra: { checks?: unknown[]; service?: Record<string, unknown>; kind?: string } = {}) => ({
  Node: { ID: '', Node: node, Address: '10.0.0.1', Datacenter: 'dc1', TaggedAddresses: null, Meta: null, CreateIndex: 5, ModifyIndex: 6 },
  Service: { ID: id, Service: 'web', Tags: null, Address: '', Meta: null, Weights: null, EnableTagOverride: false, CreateIndex: 7, ModifyIndex: 8, ...(extra.kind ? { Kind: extra.kind } : {}), ...extra.service },
  Checks: extra.checks ?? [],
});

test('conversion: Consul defaults filled like the snapshot path, instances and checks in Consul order, non-plain kinds skipped', () => {
  const conv = new Conversion('dc1');
  const read = readServiceInstances(
    [
      instance('n2', 'web-b'),
      instance('N1', 'web-z', {
        checks: [
          { Node: 'N1', CheckID: 'service:web-z', Name: 'svc', Status: 'passing', ServiceID: 'web-z', ServiceName: 'web', ServiceTags: null, Definition: { Interval: '10s' } },
          { Node: 'N1', CheckID: 'serfHealth', Name: 'Serf', Status: 'passing', ServiceID: '', ServiceName: '' },
        ],
      }),
      instance('n1', 'web-a'),
      instance('n1', 'web-proxy', { kind: 'connect-proxy' }),
    ],
    conv,
  );
  assert.equal(read.skipped, 1);
  assert.deepEqual(
    read.instances.map((i) => `${i.node.Node}/${i.service.ID}`),
    ['n1/web-a', 'N1/web-z', 'n2/web-b'],
  );
  const z = read.instances[1]!;
  assert.deepEqual(z.service, { ID: 'web-z', Service: 'web', Tags: [], Address: '', Meta: {}, Port: 0, Weights: { Passing: 1, Warning: 1 }, EnableTagOverride: false, CreateIndex: 7, ModifyIndex: 8 });
  assert.deepEqual(
    z.checks.map((c) => [c.CheckID, c.Interval, c.ServiceTags]),
    [
      ['serfHealth', '', []],
      ['service:web-z', '10s', []],
    ],
  );
  assert.equal(z.node.TaggedAddresses, null);
});

test('conversion: a missing or mistyped field is a malformed answer naming its path; another datacenter is noted', () => {
  const conv = new Conversion('dc1');
  assert.throws(() => readServiceInstances([{ Node: { Node: 'n1', Address: '1.2.3.4' } }], conv), /\[0\]\.Service is required/);
  assert.throws(() => readServiceInstances([{ ...instance('n1', 'a'), Checks: [{ CheckID: 'c', Status: 'sick' }] }], conv), /\[0\]\.Checks\[0\]\.Status must be passing, warning or critical/);
  assert.throws(() => readServiceInstances({}, conv), /expected a list of service instances/);
  assert.throws(() => readServiceList({ web: 'tag' }), /web must be a list of tags/);
  const other = readServiceInstances([{ ...instance('n1', 'a'), Node: { ...instance('n1', 'a').Node, Datacenter: 'dc2' } }], conv);
  assert.equal(other.instances[0]!.node.Datacenter, 'dc1');
  assert.equal(conv.foreignDatacenter, 'dc2');
});

test('service summaries: one entry per lower-cased name, compared whole; peers skipped; a bad shape is a malformed answer', () => {
  const web = { Name: 'Web', Datacenter: 'dc1', Tags: ['a'], Nodes: ['n1'], InstanceCount: 2, ChecksPassing: 2, ChecksWarning: 0, ChecksCritical: 0 };
  const read = readServiceSummaries([web, { Name: 'db', Tags: null, Nodes: ['n2'], InstanceCount: 1 }, { Name: 'far', PeerName: 'other', InstanceCount: 9 }]);
  assert.deepEqual([...read.keys()], ['web', 'db']);
  assert.notEqual(read.get('web'), readServiceSummaries([{ ...web, InstanceCount: 1 }]).get('web'), 'an instance fewer is a change');
  assert.equal(read.get('web'), readServiceSummaries([{ ...web }]).get('web'), 'the same entry is no change');
  assert.throws(() => readServiceSummaries({}), /expected service summaries \(a JSON array\)/);
  assert.throws(() => readServiceSummaries([{ Tags: [] }]), /\[0\]\.Name is required/);
  assert.throws(() => readServiceSummaries([{ Name: 'x', PeerName: 3 }]), /\[0\]\.PeerName/);
});

test('model: a new index with the same content is no change; unchanged services keep their objects across builds', () => {
  const conv = new Conversion('dc1');
  const model = new CatalogModel();
  const list = (names: string[]) => new Map(names.map((n) => [n.toLowerCase(), { name: n, tags: '[]' }]));
  assert.deepEqual(model.setServiceList(list(['web', 'db'])), { named: ['web', 'db'], removed: [] });
  assert.equal(model.complete(), false, 'nothing read yet');
  const read = (node: string, id: string) => readServiceInstances([instance(node, id)], conv).instances;
  model.applyService('web', read('n1', 'web-1'), 10);
  assert.equal(model.servicesComplete(), false);
  model.applyService('db', read('n2', 'db-1'), 11);
  model.setNodes([conv.node(instance('n1', 'x').Node, 'n1'), conv.node(instance('n2', 'x').Node, 'n2')]);
  assert.equal(model.complete(), true);
  const first = model.build();
  assert.equal(model.changed, false);
  assert.deepEqual([...first.services.keys()], ['db', 'web'], 'sorted by key like buildCatalog');
  assert.deepEqual([...first.nodeChecks.keys()].sort(), ['n1', 'n2']);

  assert.equal(model.applyService('web', read('n1', 'web-1'), 12), false, 'same content, new index');
  assert.equal(model.indexOf('web'), 12);
  assert.equal(model.changed, false);
  assert.equal(model.applyService('web', read('n3', 'web-1'), 13), true);
  const second = model.build();
  assert.equal(second.services.get('db'), first.services.get('db'), 'db untouched: the same object');
  assert.notEqual(second.services.get('web'), first.services.get('web'));
  assert.deepEqual(model.servicesOnNode('n3'), ['web']);
  assert.deepEqual(model.servicesOnNode('n1'), []);

  assert.deepEqual(model.setServiceList(list(['web'])), { named: [], removed: ['db'] });
  assert.equal(model.changed, true);
  assert.deepEqual([...model.build().services.keys()], ['web']);
});
