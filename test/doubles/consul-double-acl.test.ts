// ACLs on the Consul double (default policy deny): token forms, 403 for an unknown token, reads
// filtered with X-Consul-Results-Filtered-By-Acls, denied KV reads and writes, agent writes.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Consul from 'consul';
import { ConsulDouble } from '../support/consul-double/index.ts';
import { call, instance } from './consul-helpers.ts';

const MGMT = 'root-secret';
let d: ConsulDouble;

before(async () => {
  d = await ConsulDouble.start({
    acl: {
      managementToken: MGMT,
      tokens: {
        'web-reader': { serviceRead: ['web*'], nodeRead: true, keyRead: ['app/'] },
        'no-nodes': { serviceRead: ['*'] },
        'kv-writer': { keyWrite: ['app/'] },
        'agent-writer': { agentWrite: true, serviceRead: ['*'], nodeRead: true },
      },
      anonymous: { serviceRead: ['public'], nodeRead: true },
    },
  });
  d.register(instance('web', 'n1', '10.0.0.1'));
  d.register(instance('web-admin', 'n1', '10.0.0.1'));
  d.register(instance('billing', 'n2', '10.0.0.2'));
  d.register(instance('public', 'n2', '10.0.0.2'));
  d.kvSet('app/control', 'v');
  d.kvSet('secret/key', 's');
});
after(() => d.close());

const client = (token?: string): Consul => new Consul({ host: '127.0.0.1', port: d.port, ...(token ? { defaults: { token } } : {}) });

test('an unknown token is 403 "ACL not found" on every endpoint that resolves it', async () => {
  await assert.rejects(client('who-is-this').catalog.service.list(), (err: { statusCode?: number; message: string }) => err.statusCode === 403 && /ACL not found/.test(err.message));
  for (const [path, headers] of [
    ['/v1/health/service/web?token=nope', {}],
    ['/v1/kv/app/control', { 'X-Consul-Token': 'nope' }],
    ['/v1/agent/services', { Authorization: 'Bearer nope' }],
  ] as const) {
    const r = await call(d.url, path, { headers });
    assert.equal(r.status, 403, path);
    assert.match(r.text, /ACL not found$/, path);
    assert.equal(r.headers['x-consul-default-acl-policy'], 'deny');
  }
});

test('reads are filtered by service:read and node:read, with the filtered header', async () => {
  const list = (await client('web-reader').catalog.service.list()) as Record<string, string[]>;
  assert.deepEqual(Object.keys(list), ['web', 'web-admin']);
  const r = await call(d.url, '/v1/catalog/services', { headers: { 'X-Consul-Token': 'web-reader' } });
  assert.equal(r.headers['x-consul-results-filtered-by-acls'], 'true');

  const billing = await call(d.url, '/v1/health/service/billing', { headers: { Authorization: 'Bearer web-reader' } });
  assert.deepEqual([billing.status, billing.text, billing.headers['x-consul-results-filtered-by-acls']], [200, '[]', 'true']);
  const unfiltered = await call(d.url, '/v1/health/service/billing', { headers: { 'X-Consul-Token': MGMT } });
  assert.equal(billing.index, unfiltered.index, 'ACL filtering leaves the index alone');
  assert.equal(unfiltered.headers['x-consul-results-filtered-by-acls'], undefined);

  const noNodes = await call(d.url, '/v1/health/service/web?token=no-nodes');
  assert.equal(noNodes.text, '[]', 'service:read alone is not enough: the node must be readable too');
  const mine = await call(d.url, '/v1/health/service/web?token=web-reader');
  assert.equal(mine.json<unknown[]>().length, 1);
  assert.equal(mine.headers['x-consul-results-filtered-by-acls'], undefined);

  const anon = (await client().catalog.service.list()) as Record<string, string[]>;
  assert.deepEqual(Object.keys(anon), ['public'], 'no token: the anonymous rules');
  assert.equal((await client(MGMT).catalog.service.list() as Record<string, string[]>).billing !== undefined, true);
});

test('KV: a denied read and a denied write are 403 "Permission denied"; prefixes grant', async () => {
  assert.equal(((await client('web-reader').kv.get('app/control')) as { Value: string }).Value, 'v');
  const denied = await call(d.url, '/v1/kv/secret/key', { headers: { 'X-Consul-Token': 'web-reader' } });
  assert.equal(denied.status, 403);
  assert.match(denied.text, /^rpc error making call: Permission denied: token with AccessorID '[0-9a-f-]{36}' lacks permission 'key:read' on "secret\/key"$/);

  await assert.rejects(client('web-reader').kv.set('app/control', 'w'), (err: { statusCode?: number }) => err.statusCode === 403);
  assert.equal(d.kvGet('app/control')?.value.toString(), 'v', 'nothing written');
  assert.equal(await client('kv-writer').kv.set('app/control', 'w'), true);
  const outside = await call(d.url, '/v1/kv/secret/key', { method: 'PUT', body: 'x', headers: { 'X-Consul-Token': 'kv-writer' } });
  assert.equal(outside.status, 403);
  const anonWrite = await call(d.url, '/v1/kv/app/x', { method: 'PUT', body: 'x' });
  assert.match(anonWrite.text, /Permission denied: anonymous token lacks permission 'key:write' on "app\/x"/);

  const list = await call(d.url, '/v1/kv/?recurse', { headers: { 'X-Consul-Token': 'web-reader' } });
  assert.deepEqual(list.json<Array<{ Key: string }>>().map((e) => e.Key), ['app/control']);
  assert.equal(list.headers['x-consul-results-filtered-by-acls'], 'true');
});

test('agent and catalog writes need write rights', async () => {
  const body = JSON.stringify({ Name: 'mine', Port: 9000 });
  const denied = await call(d.url, '/v1/agent/service/register', { method: 'PUT', body, headers: { 'X-Consul-Token': 'web-reader' } });
  assert.equal(denied.status, 403);
  assert.match(denied.text, /^Permission denied: token with AccessorID '.*' lacks permission 'service:write' on "mine"$/);
  const ok = await call(d.url, '/v1/agent/service/register', { method: 'PUT', body, headers: { 'X-Consul-Token': 'agent-writer' } });
  assert.deepEqual([ok.status, ok.text], [200, '']);
  const services = await call(d.url, '/v1/agent/services?token=agent-writer');
  assert.deepEqual(Object.keys(services.json<Record<string, unknown>>()), ['mine']);
  assert.equal((await call(d.url, '/v1/catalog/register', { method: 'PUT', body: '{"Node":"x","Address":"1.2.3.4"}' })).status, 403);
  assert.equal((await call(d.url, '/v1/agent/self')).status, 200, 'anonymous has node:read here, which grants agent:read');
  assert.equal((await call(d.url, '/v1/agent/self?token=kv-writer')).status, 403);
  assert.equal((await call(d.url, '/v1/status/leader?token=nope')).text, '"127.0.0.1:8300"', 'status endpoints resolve no token');
});
