// The upstream Consul source against the Consul test double: the first catalog only once every
// service was read in full, and then the same catalog the snapshot path builds from the same
// registrations (byte for byte as the HTTP API renders it); every kind of change delivered
// (health, node check, node address, new and removed services, an instance the wide watches
// cannot place, a hot service), built incrementally; an idle upstream costs few requests.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCatalog } from '../../src/sources/consul/catalog-build.ts';
import { parseRegistrations } from '../../src/sources/consul/registration-body.ts';
import { goJson, renderCheck, renderCheckServiceNode, renderNode } from '../../src/frontends/http/render.ts';
import type { ConsulCatalog } from '../../src/world/consul-types.ts';
import { fleet, harness, instancesOf } from './consul-upstream-harness.ts';

const SERF = { CheckID: 'serfHealth', Name: 'Serf Health Status', Status: 'passing' };
const NODE_ID = '5e0c4d56-1f9f-4b64-9a4b-2f0d5a0c1d01';

/** Registrations that exercise every field and default the conversion fills. */
const VARIED: object[] = [
  { ID: NODE_ID, Node: 'edge-1', Address: '10.1.0.1', TaggedAddresses: { wan: '198.51.100.1', lan: '10.1.0.1' }, NodeMeta: { zone: 'a', rack: 'r1' }, Check: SERF },
  { Node: 'edge-2', Address: '10.1.0.2', Checks: [SERF, { CheckID: 'Maint', Name: 'Maintenance', Status: 'critical', Notes: 'kernel upgrade' }] },
  { Node: 'lonely', Address: '10.1.0.9', Check: { CheckID: 'serfHealth', Name: 'Serf Health Status', Status: 'warning', Output: 'flapping' } },
  {
    ID: NODE_ID,
    Node: 'edge-1',
    Address: '10.1.0.1',
    TaggedAddresses: { wan: '198.51.100.1', lan: '10.1.0.1' },
    NodeMeta: { zone: 'a', rack: 'r1' },
    Service: {
      ID: 'web-1',
      Service: 'Web',
      Tags: ['b', 'a'],
      Address: '10.1.0.100',
      TaggedAddresses: { lan_ipv4: { Address: '10.1.0.100', Port: 8080 } },
      Meta: { version: '2', team: 'x' },
      Port: 8080,
      Weights: { Passing: 3, Warning: 1 },
      EnableTagOverride: true,
    },
    Checks: [
      { CheckID: 'service:web-1', Name: 'http', Status: 'passing', ServiceID: 'web-1', Output: 'HTTP GET 200 <ok> & fine', Notes: 'n', Type: 'http', Definition: { Interval: '10s', Timeout: '2s' } },
      { CheckID: 'a-second', Name: 'ttl', ServiceID: 'web-1' },
    ],
  },
  { Node: 'edge-2', Address: '10.1.0.2', Service: { ID: 'web-2', Service: 'Web', Port: 8080 } },
  { Node: 'edge-2', Address: '10.1.0.2', Service: { Service: 'db' } },
  { Node: 'EDGE-0', Address: '10.1.0.3', Service: { ID: 'Web-0', Service: 'web', Tags: ['a'], Port: 8081 } },
];

/** Catalog indexes differ by nature (raft indexes upstream, registration counts in a snapshot): set them aside. */
function withoutIndexes(json: string): unknown {
  return JSON.parse(json, (key, value: unknown) => (key === 'CreateIndex' || key === 'ModifyIndex' ? 0 : value));
}

/** What the HTTP API would render from a catalog: every health/service answer, every node, every node's checks. */
function rendered(c: ConsulCatalog): unknown {
  return withoutIndexes(
    goJson(
      {
        services: [...c.services].map(([key, s]) => [key, s.name, s.instances.map(renderCheckServiceNode)]),
        nodes: [...c.nodes.values()].map(renderNode).sort((a, b) => String((a as { Node: string }).Node).localeCompare((b as { Node: string }).Node)),
        nodeChecks: [...c.nodeChecks].sort(([a], [b]) => a.localeCompare(b)).map(([n, checks]) => [n, checks.map(renderCheck)]),
      },
      false,
    ),
  );
}

test('first delivery only after every service was read in full, and it renders byte for byte what the snapshot path builds from the same registrations', async (t) => {
  const h = await harness({ registrations: VARIED, start: false });
  t.after(() => h.close());
  // The first two full reads of db fail: the first catalog must wait for the retry, never leave db out.
  h.double.faults.fail(2, 500, '/v1/health/service/db');
  await h.source.start(
    {
      data: (catalog) => h.calls.push({ kind: 'data', catalog, at: Date.now() }),
      stale: (stale) => h.calls.push({ kind: 'stale', stale, at: Date.now() }),
      error: (err) => h.calls.push({ kind: 'error', err, at: Date.now() }),
    },
    h.abort.signal,
  );
  assert.equal(h.source.status().synced, false, 'start() resolves before the first sync');
  const live = await h.synced();
  assert.equal(h.deliveries().length, 1);
  assert.equal(h.source.status().synced, true);
  assert.ok(h.double.stats.requests('/v1/health/service/db') >= 3, 'db was read again after its failures');
  assert.deepEqual([...live.services.keys()], ['db', 'web']);

  // The agent's own node (with its random ID) is part of the upstream catalog: register it in the snapshot too.
  const agent = live.nodes.get('agent-1')!;
  const agentReg = { ID: agent.ID, Node: 'agent-1', Address: agent.Address, NodeMeta: agent.Meta, Check: { CheckID: 'serfHealth', Name: 'Serf Health Status', Status: 'passing', Output: 'Agent alive and reachable' } };
  const snapshot = buildCatalog(parseRegistrations(JSON.stringify([agentReg, ...VARIED]), 'test'), 'dc1');
  assert.deepEqual(rendered(live), rendered(snapshot));
});

test('changes reach a delivery: health, node check, node address, services added and removed, an unplaceable instance, a hot service; unchanged services keep their objects', async (t) => {
  const h = await harness({ registrations: fleet(30, 2, 4), source: { hotWatches: 4, hotServices: () => ['svc-0'], probeSweepMs: 60_000 } });
  t.after(() => h.close());
  await h.synced();
  const latencies: Record<string, number> = {};
  const change = async (name: string, write: () => void, probe: (c: ConsulCatalog) => void): Promise<ConsulCatalog> => {
    const since = h.deliveries().length;
    const before = h.latest();
    const at = Date.now();
    write();
    const c = await h.delivered(since, probe, name);
    const call = h.calls.find((x) => x.kind === 'data' && x.catalog === c)!;
    assert.ok(call.at >= at, `${name}: delivered after the change`);
    latencies[name] = call.at - at;
    for (const [key, svc] of c.services) if (before.services.get(key) && JSON.stringify(before.services.get(key)) === JSON.stringify(svc)) assert.equal(svc, before.services.get(key), `${name}: unchanged ${key} is the same object`);
    return c;
  };
  const status = (c: ConsulCatalog, service: string, id: string, checkId: string): string => instancesOf(c, service).find((i) => i.service.ID === id)!.checks.find((x) => x.CheckID === checkId)!.Status;

  const c1 = await change('service check', () => h.double.setCheckStatus('haproxy-1', 'service:svc-1-0', 'critical'), (c) => assert.equal(status(c, 'svc-1', 'svc-1-0', 'service:svc-1-0'), 'critical'));
  assert.equal(c1.services.get('svc-5'), h.deliveries()[0]!.services.get('svc-5'), 'a service nothing touched keeps its object from the first delivery');

  await change('node check', () => h.double.setCheckStatus('haproxy-2', 'serfHealth', 'critical'), (c) => {
    for (const s of c.services.values()) for (const i of s.instances) if (i.node.Node === 'haproxy-2') assert.equal(i.checks.find((x) => x.CheckID === 'serfHealth')!.Status, 'critical', `${s.name} on haproxy-2`);
  });
  await change('node address', () => h.double.register({ Node: 'haproxy-3', Address: '10.9.9.9' }), (c) => {
    assert.equal(c.nodes.get('haproxy-3')!.Address, '10.9.9.9');
    for (const s of c.services.values()) for (const i of s.instances) if (i.node.Node === 'haproxy-3') assert.equal(i.node.Address, '10.9.9.9', s.name);
  });
  await change('service added', () => h.double.register({ Node: 'haproxy-0', Address: '10.0.0.1', Service: { ID: 'fresh-1', Service: 'fresh', Port: 1 } }), (c) => assert.equal(instancesOf(c, 'fresh').length, 1));
  await change('service removed', () => h.double.deregister({ Node: 'haproxy-0', ServiceID: 'fresh-1' }), (c) => assert.equal(c.services.has('fresh'), false));

  // An instance added to an existing service on an existing node, same tags, no check: the
  // service list, the health diff and the node list name nothing; the service summaries do (one
  // more instance), so no probe is needed.
  const probes = (): number => h.double.stats.log().filter((e) => e.path.startsWith('/v1/health/service/') && e.query['filter'] !== undefined).length;
  const summaries = (): number => h.double.stats.requests('/v1/internal/ui/services');
  let probesBefore = probes();
  const summariesBefore = summaries();
  await change('unnamed instance', () => h.double.register({ Node: 'haproxy-1', Address: '10.0.0.2', Service: { ID: 'svc-7-2', Service: 'svc-7', Tags: ['haproxy', 'v1'], Port: 20007 } }), (c) =>
    assert.ok(instancesOf(c, 'svc-7').some((i) => i.service.ID === 'svc-7-2'), 'svc-7-2 listed'),
  );
  assert.ok(summaries() > summariesBefore, 'located by a read of the service summaries');
  assert.equal(probes(), probesBefore, 'no index-probe sweep');

  // The same instance registered again on another port changes no summary: only probes find it.
  await new Promise((r) => setTimeout(r, 1100));
  probesBefore = probes();
  await change('instance changed in place', () => h.double.register({ Node: 'haproxy-1', Address: '10.0.0.2', Service: { ID: 'svc-7-2', Service: 'svc-7', Tags: ['haproxy', 'v1'], Port: 20077 } }), (c) =>
    assert.equal(instancesOf(c, 'svc-7').find((i) => i.service.ID === 'svc-7-2')!.service.Port, 20077),
  );
  assert.ok(probes() > probesBefore, 'found by an index-probe sweep');

  // The same kind of change on the hot service arrives through its own watch; no sweep is needed.
  // (First let the watches' token buckets refill: a wake-up after a pause may hold several
  // changes, and is always followed by a sweep.)
  await new Promise((r) => setTimeout(r, 1100));
  const probesBeforeHot = probes();
  await change('hot service', () => h.double.register({ Node: 'haproxy-0', Address: '10.0.0.1', Service: { ID: 'svc-0-0', Service: 'svc-0', Tags: ['haproxy', 'v0'], Port: 31000 } }), (c) =>
    assert.equal(instancesOf(c, 'svc-0').find((i) => i.service.ID === 'svc-0-0')!.service.Port, 31000),
  );
  assert.ok(h.double.stats.log().some((e) => e.path === '/v1/health/service/svc-0' && 'cached' in e.query && e.query['index'] !== undefined), 'svc-0 has a blocking ?cached watch');
  // A registration with a failing check is placed by the health diff: no sweep either.
  await change('instance with a failing check', () => h.double.register({ Node: 'haproxy-2', Address: '10.0.0.3', Service: { ID: 'svc-9-9', Service: 'svc-9', Tags: ['haproxy', 'v1'] }, Check: { CheckID: 'service:svc-9-9', Name: 'x', ServiceID: 'svc-9-9', Status: 'critical' } }), (c) =>
    assert.ok(instancesOf(c, 'svc-9').some((i) => i.service.ID === 'svc-9-9'), 'svc-9-9 listed'),
  );
  await new Promise((r) => setTimeout(r, 400));
  if (probes() !== probesBeforeHot) console.log(h.logs.filter((l) => l.msg.includes('sweep')).map((l) => JSON.stringify(l)).join('\n'));
  assert.equal(probes(), probesBeforeHot, 'changes the watches placed started no probe sweep');
  t.diagnostic(`change -> delivery (ms): ${JSON.stringify(latencies)}`);
});

test('idle: no change upstream, no delivery; only the parked watches come back, once per wait', async (t) => {
  const waitMs = 1000;
  const h = await harness({ registrations: fleet(40, 2, 4), source: { waitMs, hotWatches: 2, hotServices: () => ['svc-1', 'svc-2'], probeSweepMs: 1000 } });
  t.after(() => h.close());
  await h.synced();
  await new Promise((r) => setTimeout(r, 300));
  const delivered = h.deliveries().length;
  h.double.stats.reset();
  const windowMs = 3000;
  await new Promise((r) => setTimeout(r, windowMs));
  const log = h.double.stats.log();
  assert.equal(h.deliveries().length, delivered, 'nothing delivered');
  const reads = log.filter((e) => e.path.startsWith('/v1/health/service/') && e.query['index'] === undefined);
  assert.equal(reads.length, 0, 'no full read and no probe: nothing moved, so the sweep had nothing to look for');
  // 3 wide watches + 2 hot watches, each back once per wait (plus Consul's wait/16 jitter).
  const perSecond = (log.length * 1000) / windowMs;
  assert.ok(perSecond <= ((3 + 2) * 1000) / waitMs + 1, `${perSecond} requests/s`);
  const atDefaultWait = (perSecond * waitMs) / 300_000;
  assert.ok(atDefaultWait < 1, 'under 1 request/s at the default wait');
  t.diagnostic(`idle: ${log.length} requests in ${windowMs} ms with a ${waitMs} ms wait = ${perSecond.toFixed(2)}/s; with the default 5 min wait: ${atDefaultWait.toFixed(4)}/s`);
});
