// Agent write endpoints self-registering clients need (Spring Cloud Consul, go-micro), their
// persistence in the state dir, and their way into the catalog through the world feed.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock } from '../../src/platform/clock.ts';
import { AgentRegistrations } from '../../src/sources/agent/registrations.ts';
import { call, json, startServer, type Server } from './support.ts';

let s: Server;
let changes = 0;
before(async () => {
  s = await startServer();
  s.core.test.app.agent.onChange(() => changes++);
});
after(() => s.close());

const put = (path: string, body?: unknown) => call(s.port, path, { method: 'PUT', body: body === undefined ? undefined : JSON.stringify(body) });

test('register (Spring-style body with a TTL check), then it shows in agent and catalog endpoints', async () => {
  const r = await put('/v1/agent/service/register', {
    ID: 'orders-1',
    Name: 'orders',
    Tags: ['secure=false'],
    Address: '10.2.0.5',
    Port: 8080,
    Meta: { zone: 'a' },
    Check: { TTL: '30s', DeregisterCriticalServiceAfter: '3m' },
  });
  assert.equal(r.status, 200);
  assert.equal(r.body, '');
  const services = json<Record<string, { Service: string; Port: number; Tags: string[]; Datacenter: string }>>(await call(s.port, '/v1/agent/services'));
  assert.deepEqual(Object.keys(services), ['orders-1']);
  assert.equal(services['orders-1']!.Port, 8080);
  assert.equal(services['orders-1']!.Datacenter, 'dc1');
  const one = json<{ ID: string; ContentHash: string }>(await call(s.port, '/v1/agent/service/orders-1'));
  assert.equal(one.ID, 'orders-1');
  assert.equal((await call(s.port, '/v1/agent/service/nope')).body, 'unknown service ID: nope');

  // TTL checks start critical, as in Consul, until the client heartbeats.
  const checks = json<Record<string, { Status: string }>>(await call(s.port, '/v1/agent/checks'));
  assert.equal(checks['service:orders-1']!.Status, 'critical');
  assert.equal((await call(s.port, '/v1/health/service/orders?passing')).body, '[]');
  assert.ok(Object.keys(json(await call(s.port, '/v1/catalog/services'))).includes('orders'));

  assert.equal((await put('/v1/agent/check/pass/service:orders-1')).status, 200);
  const healthy = json<Array<{ Service: { Address: string; Port: number } }>>(await call(s.port, '/v1/health/service/orders?passing'));
  assert.deepEqual(healthy.map((e) => `${e.Service.Address}:${e.Service.Port}`), ['10.2.0.5:8080']);

  const before = changes;
  assert.equal((await put('/v1/agent/check/pass/service:orders-1')).status, 200);
  assert.equal(changes, before, 'a heartbeat that changes nothing is not a catalog change');

  assert.equal((await put('/v1/agent/check/warn/service:orders-1?note=slow')).status, 200);
  assert.equal(json<Record<string, { Status: string; Output: string }>>(await call(s.port, '/v1/agent/checks'))['service:orders-1']!.Output, 'slow');
  assert.equal((await put('/v1/agent/check/update/service:orders-1', { Status: 'passing', Output: 'ok' })).status, 200);
  const bad = await put('/v1/agent/check/update/service:orders-1', { Status: 'sideways' });
  assert.equal(bad.status, 400);
  assert.equal((await put('/v1/agent/check/fail/nope')).status, 404);
});

test('registrations are persisted in the state dir and survive a reopen', async () => {
  const file = JSON.parse(await readFile(join(s.core.stateDir, 'agent-services.json'), 'utf8')) as { services: Array<{ ID: string }> };
  assert.deepEqual(file.services.map((x) => x.ID), ['orders-1']);
  const reopened = await AgentRegistrations.open({ dir: s.core.stateDir, indexClock: s.core.indexClock, clock: systemClock });
  assert.deepEqual(reopened.services().map((x) => x.ID), ['orders-1']);
  assert.equal(reopened.checks()[0]!.Status, 'passing');
  reopened.close();
});

test('deregister removes it; unknown ID is a 404', async () => {
  assert.equal((await put('/v1/agent/service/deregister/orders-1')).status, 200);
  assert.equal((await call(s.port, '/v1/agent/services')).body, '{}');
  assert.equal((await call(s.port, '/v1/health/service/orders')).body, '[]');
  const r = await put('/v1/agent/service/deregister/orders-1');
  assert.equal(r.status, 404);
  assert.match(r.body, /Unknown service ID "orders-1"/);
});

test('non-TTL checks are shown passing (Discovery runs no probes); ID defaults to Name', async () => {
  assert.equal((await put('/v1/agent/service/register', { name: 'web', port: 80, checks: [{ http: 'http://x/health', interval: '10s' }, { ttl: '10s' }] })).status, 200);
  const checks = json<Record<string, { Status: string; ServiceID: string }>>(await call(s.port, '/v1/agent/checks'));
  assert.deepEqual(Object.keys(checks).sort(), ['service:web:1', 'service:web:2']);
  assert.equal(checks['service:web:1']!.Status, 'passing');
  assert.equal(checks['service:web:2']!.Status, 'critical');
  const nonTtl = await put('/v1/agent/check/pass/service:web:1');
  assert.equal(nonTtl.status, 500);
  assert.match(nonTtl.body, /does not have associated TTL/);
  assert.equal((await put('/v1/agent/service/deregister/web')).status, 200);
});

test('KV answers a clear 501 in embedded mode', async () => {
  for (const method of ['GET', 'PUT', 'DELETE']) {
    const r = await call(s.port, '/v1/kv/config/app', { method });
    assert.equal(r.status, 501);
    assert.match(r.body, /^KV is not available in embedded mode/);
  }
});
