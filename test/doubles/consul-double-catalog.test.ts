// The Consul double's catalog and health endpoints through the real `consul` npm client: register,
// list, deregister, ?passing, ?filter, and the indexes Consul's state store reports (per table, per
// service, independent of the filter: the "index probe").

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Consul from 'consul';
import { ConsulDouble } from '../support/consul-double/index.ts';
import { call, instance } from './consul-helpers.ts';

let d: ConsulDouble;
let consul: Consul;

before(async () => {
  d = await ConsulDouble.start();
  consul = new Consul({ host: '127.0.0.1', port: d.port });
});
after(() => d.close());

type ServiceNode = { Node: string; Address: string; ServiceID: string; ServiceName: string; ServiceTags: string[]; ServicePort: number; ServiceWeights: unknown };
type Entry = { Node: { Node: string }; Service: { ID: string; Tags: string[] }; Checks: Array<{ CheckID: string; Status: string }> };

test('catalog register, list, service and deregister through the consul client', async () => {
  await consul.catalog.register({ node: 'cat-1', address: '10.0.0.1', service: { id: 'shop-1', service: 'shop', port: 8080, tags: ['v1', 'blue'] } });
  await consul.catalog.register({ node: 'cat-2', address: '10.0.0.2', service: { id: 'shop-2', service: 'shop', port: 8080, tags: ['v1', 'green'] } });

  const list = (await consul.catalog.service.list()) as Record<string, string[]>;
  assert.deepEqual(list.shop, ['blue', 'green', 'v1'], 'tags de-duplicated and sorted');

  const nodes = (await consul.catalog.service.nodes('shop')) as ServiceNode[];
  assert.deepEqual(nodes.map((n) => [n.Node, n.Address, n.ServiceID, n.ServicePort]), [['cat-1', '10.0.0.1', 'shop-1', 8080], ['cat-2', '10.0.0.2', 'shop-2', 8080]]);
  assert.deepEqual(nodes[0]!.ServiceWeights, { Passing: 1, Warning: 1 });

  const all = (await consul.catalog.node.list()) as Array<{ Node: string }>;
  assert.deepEqual(all.map((n) => n.Node), ['agent-1', 'cat-1', 'cat-2'], 'the agent node is in the catalog, nodes sorted by name');

  await consul.catalog.deregister({ node: 'cat-1', serviceid: 'shop-1' });
  assert.deepEqual(((await consul.catalog.service.nodes('shop')) as ServiceNode[]).map((n) => n.ServiceID), ['shop-2']);
  await consul.catalog.deregister({ node: 'cat-2' });
  assert.equal(((await consul.catalog.service.list()) as Record<string, string[]>).shop, undefined, 'last instance gone: the service is gone');
  assert.deepEqual(((await consul.catalog.node.list()) as Array<{ Node: string }>).map((n) => n.Node), ['agent-1', 'cat-1']);
});

test('health service: entries with node and service checks, ?passing, ?tag', async () => {
  d.register({ ...instance('pay', 'pay-1', '10.1.0.1', { tags: ['blue'] }) });
  d.register({ ...instance('pay', 'pay-2', '10.1.0.2', { tags: ['green'], status: 'critical' }) });
  d.register({ Node: 'pay-1', Address: '10.1.0.1', Check: { CheckID: 'node-ok', Name: 'node', Status: 'passing' } });

  const entries = (await consul.health.service('pay')) as Entry[];
  assert.deepEqual(entries.map((e) => e.Node.Node), ['pay-1', 'pay-2']);
  assert.deepEqual(entries[0]!.Checks.map((c) => c.CheckID), ['node-ok', 'service:pay-pay-1'], 'node checks first, then the instance own');

  const passing = (await consul.health.service({ service: 'pay', passing: true })) as Entry[];
  assert.deepEqual(passing.map((e) => e.Node.Node), ['pay-1']);

  d.setCheckStatus('pay-1', 'node-ok', 'warning');
  assert.deepEqual((await consul.health.service({ service: 'pay', passing: true })) as Entry[], [], 'a warning node check removes the instance from ?passing');
  d.setCheckStatus('pay-1', 'node-ok', 'passing');

  const tagged = (await consul.health.service({ service: 'pay', tag: 'GREEN' })) as Entry[];
  assert.deepEqual(tagged.map((e) => e.Node.Node), ['pay-2'], 'tags match case-insensitively');
  assert.deepEqual(await consul.health.service('nothing-here'), []);
});

test('?filter: selectors, operators, grouping; a bad expression is Consul\'s 500', async () => {
  const nodesOf = async (filter: string): Promise<string[]> => ((await consul.health.service({ service: 'pay', filter })) as Entry[]).map((e) => e.Node.Node);
  assert.deepEqual(await nodesOf('Service.Tags contains "blue"'), ['pay-1']);
  assert.deepEqual(await nodesOf('"green" in Service.Tags'), ['pay-2']);
  assert.deepEqual(await nodesOf('Checks.Status == "critical"'), ['pay-2'], 'a selector through a list matches any element');
  assert.deepEqual(await nodesOf('Node.Node != "pay-1"'), ['pay-2']);
  assert.deepEqual(await nodesOf('not (Node.Node == "pay-1") or Service.Tags contains "blue"'), ['pay-1', 'pay-2']);
  assert.deepEqual(await nodesOf('Node.Node == "pay-1" and Service.Tags is empty'), []);
  assert.deepEqual(await nodesOf('Service.Meta is empty and Node.Meta is empty'), ['pay-1', 'pay-2']);
  assert.deepEqual(await nodesOf('"blue" not in Service.Tags'), ['pay-2']);
  assert.deepEqual(await nodesOf('Service.Port == 8080 and Node.Node matches "^pay-[12]$"'), ['pay-1', 'pay-2']);

  const services = (await consul.catalog.service.nodes({ service: 'pay', filter: 'ServiceTags contains "blue"' })) as ServiceNode[];
  assert.deepEqual(services.map((s) => s.Node), ['pay-1']);
  const checks = await call(d.url, `/v1/health/state/critical?filter=${encodeURIComponent('ServiceName == "pay"')}`);
  assert.deepEqual(checks.json<Array<{ Node: string }>>().map((c) => c.Node), ['pay-2']);

  for (const bad of ['Service.Tags contains', 'Nope == "x"', 'Node.Node == host-name', 'Service.Port == 10.0.0.1']) {
    const r = await call(d.url, `/v1/health/service/pay?filter=${encodeURIComponent(bad)}`);
    assert.equal(r.status, 500, bad);
    assert.match(r.text, /^rpc error making call: Failed to create boolean expression evaluator: /, bad);
    assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
  }
  // The client keeps a text body as the message only when it is short; this one is not.
  await assert.rejects(consul.health.service({ service: 'pay', filter: 'Nope == "x"' }), (err: { statusCode?: number }) => err.statusCode === 500);
});

test('index probe: a filter nothing matches returns [] with the service\'s own index, which moves only with that service', async () => {
  const probe = `/v1/health/service/pay?filter=${encodeURIComponent('Service.ID == "__no_such_instance__"')}`;
  const full = await call(d.url, '/v1/health/service/pay');
  const empty = await call(d.url, probe);
  assert.equal(empty.text, '[]');
  assert.equal(empty.index, full.index);
  assert.ok(full.index >= 1, `index ${full.index}`);

  d.register(instance('other', 'other-1', '10.2.0.1'));
  assert.equal((await call(d.url, probe)).index, full.index, 'a change to another service does not move it');

  const idx = d.setCheckStatus('pay-2', 'service:pay-pay-2', 'passing');
  assert.equal((await call(d.url, probe)).index, idx, 'a check change of the service moves it to that write');

  const nodeIdx = d.register({ Node: 'pay-1', Address: '10.1.0.11', Check: { CheckID: 'node-ok', Name: 'node', Status: 'passing' } });
  assert.equal((await call(d.url, probe)).index, nodeIdx, 'a node address change moves every service on the node');
  assert.equal((await call(d.url, '/v1/health/service/other')).index < nodeIdx, true, 'but not services elsewhere');
  assert.equal((await call(d.url, probe.replace('/health/', '/catalog/').replace('Service.ID', 'ServiceID'))).text, '[]');
});

test('table indexes: services, nodes and checks move as Consul\'s state store moves them', async () => {
  const services = (await call(d.url, '/v1/catalog/services')).index;
  const nodes = (await call(d.url, '/v1/catalog/nodes')).index;
  const checks = (await call(d.url, '/v1/health/state/any')).index;

  const checkIdx = d.setCheckStatus('pay-1', 'service:pay-pay-1', 'warning');
  assert.equal((await call(d.url, '/v1/catalog/services')).index, services, 'a check change leaves the services table alone');
  assert.equal((await call(d.url, '/v1/catalog/nodes')).index, nodes);
  assert.equal((await call(d.url, '/v1/health/state/any')).index, checkIdx);
  assert.ok(checkIdx > checks, `${checkIdx} > ${checks}`);

  const same = d.setCheckStatus('pay-1', 'service:pay-pay-1', 'warning');
  assert.ok(same > checkIdx, 'every write takes a raft index');
  assert.equal((await call(d.url, '/v1/health/state/any')).index, checkIdx, 'a write that changes nothing moves no table');

  const regIdx = d.register(instance('late', 'late-1', '10.3.0.1'));
  assert.equal((await call(d.url, '/v1/catalog/services')).index, regIdx);
  assert.equal((await call(d.url, '/v1/catalog/nodes')).index, regIdx);
  assert.equal(d.index, regIdx);

  const gone = d.deregister({ Node: 'late-1', ServiceID: 'late-late-1' });
  const missing = await call(d.url, '/v1/health/service/late');
  assert.equal(missing.text, '[]');
  assert.equal(missing.index, gone, 'a service that just went extinct reports the extinction index');
});

test('other catalog and health reads: node, node-services, checks, health/node, datacenters, errors', async () => {
  const node = (await call(d.url, '/v1/catalog/node/pay-2')).json<{ Node: { Node: string }; Services: Record<string, { Service: string }> }>();
  assert.equal(node.Node.Node, 'pay-2');
  assert.deepEqual(Object.keys(node.Services), ['pay-pay-2']);
  const missing = await call(d.url, '/v1/catalog/node/nobody');
  assert.equal(missing.text, 'null');
  assert.ok(missing.index >= 1, `index ${missing.index}`);
  assert.equal((await call(d.url, '/v1/catalog/node-services/nobody')).text, '{"Node":null,"Services":null}');
  assert.equal((await call(d.url, '/v1/catalog/node-services/pay-2')).json<{ Services: unknown[] }>().Services.length, 1);
  assert.deepEqual((await call(d.url, '/v1/health/checks/pay')).json<Array<{ CheckID: string }>>().map((c) => c.CheckID), ['service:pay-pay-1', 'service:pay-pay-2']);
  assert.deepEqual((await call(d.url, '/v1/health/node/agent-1')).json<Array<{ CheckID: string }>>().map((c) => c.CheckID), ['serfHealth']);
  const dcs = await call(d.url, '/v1/catalog/datacenters');
  assert.equal(dcs.text, '["dc1"]');
  assert.equal(dcs.headers['x-consul-index'], undefined);

  const r = await call(d.url, '/v1/catalog/services');
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(r.headers['x-consul-knownleader'], 'true');
  assert.equal(r.headers['x-consul-lastcontact'], '0');
  assert.equal(r.headers['x-consul-effective-consistency'], 'leader');
  assert.equal(r.headers['x-consul-default-acl-policy'], 'allow');
  assert.equal((await call(d.url, '/v1/catalog/services?stale')).headers['x-consul-effective-consistency'], 'stale');

  assert.deepEqual([(await call(d.url, '/v1/catalog/service/')).status, (await call(d.url, '/v1/catalog/service/')).text], [400, 'Missing service name']);
  assert.equal((await call(d.url, '/v1/catalog/services?stale&consistent')).status, 400);
  assert.equal((await call(d.url, '/v1/catalog/services?index=abc')).text, 'Invalid index');
  assert.equal((await call(d.url, '/v1/catalog/services?index=1&wait=5')).text, 'Invalid wait time');
  assert.deepEqual([(await call(d.url, '/v1/catalog/services?dc=dc9')).status, (await call(d.url, '/v1/catalog/services?dc=dc9')).text], [500, 'No path to datacenter']);
  const unknown = await call(d.url, '/v1/catalog/whatever');
  assert.deepEqual([unknown.status, unknown.text], [404, 'Invalid URL path: not a recognized HTTP API endpoint\n']);
  const post = await call(d.url, '/v1/catalog/services', { method: 'POST' });
  assert.deepEqual([post.status, post.text, post.headers.allow], [405, 'method POST not allowed', 'OPTIONS,GET']);
  const badReg = await call(d.url, '/v1/catalog/register', { method: 'PUT', body: '{"Node":"x"}' });
  assert.deepEqual([badReg.status, badReg.text], [500, 'rpc error making call: Must provide address if SkipNodeUpdate is not set']);
  assert.throws(() => d.register({ Address: '10.0.0.9' }), /Must provide node/);
});
