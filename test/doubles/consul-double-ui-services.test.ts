// GET /v1/internal/ui/services on the Consul double: the summary JSON field by field (order, nulls,
// unique and sorted lists, checks counted once per node and check ID), its index (the highest of
// the nodes, services and checks tables) and what wakes a parked query, ACL filtering, `?filter`,
// and the headers every read carries. Writes go through the `consul` npm client, reads through
// fetch.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Consul from 'consul';
import { ConsulDouble } from '../support/consul-double/index.ts';
import { eventually } from '../support/eventually.ts';
import { settle } from './consul-helpers.ts';

const MGMT = 'root-secret';
const PATH = '/v1/internal/ui/services';
let d: ConsulDouble;
let consul: Consul;

before(async () => {
  d = await ConsulDouble.start({
    acl: {
      managementToken: MGMT,
      tokens: {
        'web-only': { serviceRead: ['web'], nodeRead: true },
        'no-nodes': { serviceRead: ['*'] },
      },
    },
  });
  consul = new Consul({ host: '127.0.0.1', port: d.port, defaults: { token: MGMT } });
});
after(() => d.close());

interface Read {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly index: number;
}

async function read(query = '', token: string | null = MGMT, init: RequestInit = {}): Promise<Read> {
  const res = await fetch(`${d.url}${PATH}${query}`, { ...init, headers: token === null ? {} : { 'X-Consul-Token': token } });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, index: Number(res.headers.get('x-consul-index')) };
}

async function indexOf(path: string): Promise<number> {
  const res = await fetch(`${d.url}${path}`, { headers: { 'X-Consul-Token': MGMT } });
  await res.arrayBuffer();
  return Number(res.headers.get('x-consul-index'));
}

/** The indexes of the nodes, services and checks tables, as the list endpoints over each report them. */
async function tableIndexes(): Promise<{ nodes: number; services: number; checks: number }> {
  return { nodes: await indexOf('/v1/catalog/nodes'), services: await indexOf('/v1/catalog/services'), checks: await indexOf('/v1/health/state/any') };
}

type Summary = { Name: string; InstanceCount: number; Nodes: string[]; ChecksPassing: number; ChecksCritical: number };
const names = (r: Read): string[] => (JSON.parse(r.text) as Summary[]).map((s) => s.Name);

const svcCheck = (node: string, address: string, id: string, status: 'passing' | 'warning' | 'critical') =>
  consul.catalog.register({ node, address, check: { checkid: `service:${id}`, name: `${id} health`, serviceid: id, status } });

test('an empty catalog answers [], then the summaries of a small catalog, field by field', async () => {
  const empty = await read();
  assert.equal(empty.status, 200);
  assert.equal(empty.text, '[]', 'the agent node has no services');

  // n1: two web instances and api, sharing the node check "mem"; n2: a third web instance.
  await consul.catalog.register({ node: 'n1', address: '10.0.0.1', check: { checkid: 'mem', name: 'memory', status: 'warning' } });
  await consul.catalog.register({
    node: 'n1', address: '10.0.0.1', service: { id: 'web-1', service: 'web', port: 80, tags: ['v2', 'blue'], meta: { 'external-source': 'kubernetes' } },
    check: { checkid: 'service:web-1', name: 'web-1 health', serviceid: 'web-1', status: 'critical' },
  });
  await consul.catalog.register({
    node: 'n1', address: '10.0.0.1', service: { id: 'web-1b', service: 'web', port: 81, tags: ['blue'], meta: { 'external-source': 'kubernetes' } },
    check: { checkid: 'service:web-1b', name: 'web-1b health', serviceid: 'web-1b', status: 'passing' },
  });
  await consul.catalog.register({
    node: 'n1', address: '10.0.0.1', service: { id: 'api-1', service: 'api', port: 90 },
    check: { checkid: 'service:api-1', name: 'api-1 health', serviceid: 'api-1', status: 'passing' },
  });
  await consul.catalog.register({
    node: 'n2', address: '10.0.0.2', service: { id: 'web-2', service: 'web', port: 80, tags: ['alpha', 'blue'], meta: { 'external-source': 'nomad', other: 'x' } },
    check: { checkid: 'service:web-2', name: 'web-2 health', serviceid: 'web-2', status: 'passing' },
  });

  const r = await read();
  assert.equal(r.status, 200);
  const common = { GatewayConfig: {}, TransparentProxy: false, ConnectNative: false, ConnectedWithProxy: false, ConnectedWithGateway: false };
  const api = {
    Name: 'api', Datacenter: 'dc1', Tags: null, Nodes: ['n1'], ExternalSources: null, InstanceCount: 1,
    // Its own check passing, and n1's "mem" warning.
    ChecksPassing: 1, ChecksWarning: 1, ChecksCritical: 0, ...common,
  };
  const web = {
    Name: 'web', Datacenter: 'dc1', Tags: ['alpha', 'blue', 'v2'], Nodes: ['n1', 'n2'], ExternalSources: ['kubernetes', 'nomad'], InstanceCount: 3,
    // web-1b and web-2 passing, n1's "mem" warning once although two instances see it, web-1 critical.
    ChecksPassing: 2, ChecksWarning: 1, ChecksCritical: 1, ...common,
  };
  // The exact text: Consul's field order, no Kind for typical services, no PeerName, no namespace fields.
  assert.equal(r.text, JSON.stringify([api, web]));
  assert.equal(r.index, d.index, 'the last write moved it');
});

test('the index is the highest of the nodes, services and checks tables, and moves with each of them', async () => {
  const check = async (what: string): Promise<number> => {
    const r = await read();
    const t = await tableIndexes();
    assert.equal(r.index, Math.max(t.nodes, t.services, t.checks), `${what}: max of ${JSON.stringify(t)}`);
    assert.equal(r.index, d.index, `${what}: the write's index`);
    return r.index;
  };
  let last = await check('start');

  await consul.catalog.register({ node: 'n3', address: '10.0.0.3', service: { id: 'db-1', service: 'db', port: 5432 } });
  assert.ok((last = await check('service registration')) > 0);
  assert.deepEqual(names(await read()), ['api', 'db', 'web']);

  const before = await tableIndexes();
  await svcCheck('n1', '10.0.0.1', 'web-1', 'passing');
  assert.ok((last = await check('check status change')) > before.checks);
  assert.deepEqual(await indexOf('/v1/catalog/services'), before.services, 'a check change leaves the services table alone');

  await consul.catalog.register({ node: 'n3', address: '10.0.0.3', nodemeta: { rack: 'r1' } });
  const afterNode = await tableIndexes();
  assert.ok((last = await check('node change')) > before.nodes);
  assert.equal(afterNode.nodes, last, 'the nodes table took it');
  assert.equal(afterNode.services, before.services, 'a node change leaves the services table alone');

  await consul.catalog.deregister({ node: 'n3', serviceid: 'db-1' });
  assert.ok((await check('service deregistration')) > last);
  assert.deepEqual(names(await read()), ['api', 'web'], 'the last instance gone: its summary is gone');

  await consul.kv.set('unrelated/key', 'v');
  assert.equal((await read()).index, d.index - 1, 'a KV write does not move it');
});

test('a parked query wakes on a registration, a deregistration, a check change and a node change, not on a KV write', async () => {
  const writes: Array<[string, () => Promise<unknown>]> = [
    ['service registration', () => consul.catalog.register({ node: 'n4', address: '10.0.0.4', service: { id: 'queue-1', service: 'queue', port: 5672 } })],
    ['check status change', () => svcCheck('n1', '10.0.0.1', 'web-1', 'critical')],
    ['node change', () => consul.catalog.register({ node: 'n4', address: '10.0.0.4', nodemeta: { rack: 'r2' } })],
    ['service deregistration', () => consul.catalog.deregister({ node: 'n4', serviceid: 'queue-1' })],
  ];
  for (const [what, write] of writes) {
    const first = await read();
    const parked = read(`?index=${first.index}&wait=30s`);
    await eventually(() => assert.equal(d.stats.parked(), 1), `${what}: query parked`);
    await consul.kv.set(`kv/${what}`, 'x');
    await settle();
    assert.equal(d.stats.parked(), 1, `${what}: a KV write leaves it parked`);
    await write();
    // Well before the 30 s wait would end it anyway.
    await eventually(() => assert.equal(d.stats.parked(), 0), `${what}: woken`);
    const woken = await parked;
    assert.equal(woken.status, 200);
    assert.equal(woken.index, d.index, `${what}: answers with the write's index`);
  }
  assert.deepEqual(names(await read()), ['api', 'web']);
});

test('ACLs: rows need node:read and service:read; filtered answers carry the header', async () => {
  const webOnly = await read('', 'web-only');
  assert.deepEqual(names(webOnly), ['web']);
  assert.equal(webOnly.headers.get('x-consul-results-filtered-by-acls'), 'true');
  const all = await read();
  assert.equal(webOnly.index, all.index, 'ACL filtering leaves the index alone');
  assert.equal(all.headers.get('x-consul-results-filtered-by-acls'), null);

  const noNodes = await read('', 'no-nodes');
  assert.deepEqual([noNodes.text, noNodes.headers.get('x-consul-results-filtered-by-acls')], ['[]', 'true']);
  const anonymous = await read('', null);
  assert.deepEqual([anonymous.text, anonymous.headers.get('x-consul-default-acl-policy')], ['[]', 'deny']);
  const unknown = await read('', 'who-is-this');
  assert.deepEqual([unknown.status, unknown.text], [403, 'rpc error making call: ACL not found']);
});

test('?filter narrows the CheckServiceNode rows before they are summarized; a bad filter is a 500', async () => {
  const onlyN2 = await read(`?filter=${encodeURIComponent('Node.Node == "n2"')}`);
  const [web] = JSON.parse(onlyN2.text) as Summary[];
  assert.deepEqual([web?.Name, web?.InstanceCount, web?.Nodes], ['web', 1, ['n2']]);
  assert.equal(onlyN2.index, (await read()).index, 'the filter leaves the index alone');

  const critical = await read(`?filter=${encodeURIComponent('Checks.Status == "critical"')}`);
  assert.deepEqual(names(critical), ['web']);
  assert.equal((JSON.parse(critical.text) as Summary[])[0]!.InstanceCount, 1, 'only web-1 has a critical check');

  const bad = await read(`?filter=${encodeURIComponent('Nope == "x"')}`);
  assert.equal(bad.status, 500);
  assert.match(bad.text, /^rpc error making call: Failed to create boolean expression evaluator: Selector "Nope" is not valid/);
});

test('headers as the other reads: consistency modes, leader, last contact, query backend; ?dc, ?peer, methods and stats', async () => {
  d.stats.reset();
  const plain = await read();
  assert.equal(plain.headers.get('x-consul-effective-consistency'), 'leader');
  assert.equal(plain.headers.get('x-consul-knownleader'), 'true');
  assert.equal(plain.headers.get('x-consul-lastcontact'), '0');
  assert.equal(plain.headers.get('x-consul-query-backend'), 'blocking-query');
  assert.equal(plain.headers.get('content-type'), 'application/json');
  assert.equal((await read('?stale')).headers.get('x-consul-effective-consistency'), 'stale');
  assert.equal((await read('?consistent')).headers.get('x-consul-effective-consistency'), 'consistent');
  const both = await read('?stale&consistent');
  assert.deepEqual([both.status, both.text], [400, 'Cannot specify ?stale with ?consistent, conflicting semantics.']);

  assert.equal((await read('?dc=dc1')).status, 200);
  const otherDc = await read('?dc=dc9');
  assert.deepEqual([otherDc.status, otherDc.text], [500, 'No path to datacenter']);
  const peer = await read('?peer=other-cluster');
  assert.deepEqual([peer.status, peer.text, peer.index], [200, '[]', 1], 'no peerings: nothing imported, the peered tables at index 0');

  const post = await read('', MGMT, { method: 'POST' });
  assert.deepEqual([post.status, post.headers.get('allow')], [405, 'OPTIONS,GET']);
  assert.equal(d.stats.requests(PATH), 8, 'every request to the endpoint is counted under its path');
});
