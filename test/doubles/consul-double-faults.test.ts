// Faults and statistics of the Consul double: down/up on the same port, hang, failing N requests,
// index reset, malformed answers, dropping parked queries, the per-client connection cap (429),
// and the counters tests assert on.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { once } from 'node:events';
import Consul from 'consul';
import { ConsulDouble } from '../support/consul-double/index.ts';
import { eventually } from '../support/eventually.ts';
import { call, instance } from './consul-helpers.ts';

let d: ConsulDouble;

before(async () => {
  d = await ConsulDouble.start({ maxConnsPerClient: 6 });
  d.register(instance('web', 'web-1', '10.0.0.1', { tags: ['a'] }));
});
after(() => d.close());

test('down refuses connections and drops open ones; up listens again on the same port', async () => {
  const port = d.port;
  const first = await call(d.url, '/v1/health/service/web');
  const parked = call(d.url, `/v1/health/service/web?index=${first.index}&wait=30s`).catch((e: unknown) => e);
  await eventually(() => assert.equal(d.stats.parked(), 1), 'query parked');
  await d.faults.down();
  assert.ok((await parked) instanceof Error, 'the parked query lost its socket');
  await assert.rejects(call(d.url, '/v1/catalog/services'), /ECONNREFUSED/);
  await eventually(() => assert.equal(d.stats.openConnections(), 0), 'no socket left');
  assert.equal(d.stats.parked(), 0);
  await d.faults.up();
  assert.equal(d.port, port);
  assert.equal((await call(d.url, '/v1/catalog/services')).status, 200);
});

test('hang holds requests unanswered until hang(false) answers them normally', async () => {
  const before = d.stats.requests('/v1/catalog/services');
  d.faults.hang(true);
  let answered = false;
  const held = call(d.url, '/v1/catalog/services').then((r) => ((answered = true), r));
  await eventually(() => assert.equal(d.stats.requests('/v1/catalog/services'), before + 1), 'request received');
  assert.equal(answered, false);
  d.faults.hang(false);
  const r = await held;
  assert.deepEqual([r.status, r.json()], [200, { web: ['a'] }]);

  d.faults.hang(true);
  const dropped = call(d.url, '/v1/catalog/services').catch((e: unknown) => e);
  await eventually(() => assert.equal(d.stats.requests('/v1/catalog/services'), before + 2), 'second request received');
  await d.faults.down();
  assert.ok((await dropped) instanceof Error, 'down() destroys held sockets');
  d.faults.hang(false);
  await d.faults.up();
});

test('fail answers the next N matching requests with Consul\'s error, then serves again', async () => {
  d.faults.fail(2, 500, '/v1/health/');
  assert.equal((await call(d.url, '/v1/catalog/services')).status, 200, 'other paths are served');
  const a = await call(d.url, '/v1/health/service/web');
  assert.deepEqual([a.status, a.text, a.headers['content-type']], [500, 'rpc error making call: No cluster leader', 'text/plain; charset=utf-8']);
  await assert.rejects(new Consul({ host: '127.0.0.1', port: d.port }).health.service('web'), (err: { statusCode?: number; message: string }) => err.statusCode === 500 && /No cluster leader/.test(err.message));
  assert.equal((await call(d.url, '/v1/health/service/web')).status, 200);

  d.faults.fail('always', 503);
  for (let i = 0; i < 3; i++) assert.equal((await call(d.url, '/v1/kv/x')).status, 503);
  d.faults.fail(0);
  assert.equal((await call(d.url, '/v1/kv/x')).status, 404);
});

test('resetIndex: parked queries return at once with the lower index, and indexes grow from there', async () => {
  const first = await call(d.url, '/v1/health/service/web');
  assert.ok(first.index > 1, `index ${first.index}`);
  const parked = call(d.url, `/v1/health/service/web?index=${first.index}&wait=30s`);
  await eventually(() => assert.equal(d.stats.parked(), 1), 'query parked');
  d.faults.resetIndex();
  const r = await parked;
  assert.equal(r.index, 1);
  assert.equal(d.index, 1);
  assert.equal(r.json<Array<{ Service: { ModifyIndex: number } }>>()[0]!.Service.ModifyIndex, 1, 'records report the lower index too');
  const next = d.register(instance('web', 'web-2', '10.0.0.2'));
  assert.equal(next, 2);
  assert.equal((await call(d.url, '/v1/health/service/web')).index, 2);
});

test('malformed answers: not JSON, no index, a bad index, missing fields', async () => {
  d.faults.malformed('not-json', '/v1/health/');
  const bad = await call(d.url, '/v1/health/service/web');
  assert.equal(bad.headers['content-type'], 'application/json');
  assert.throws(() => bad.json());
  assert.ok(bad.index >= 1, 'the index header is still there');
  assert.equal((await call(d.url, '/v1/catalog/services')).status, 200, 'only under the prefix');

  d.faults.malformed('no-index');
  const noIndex = await call(d.url, '/v1/catalog/services');
  assert.equal(noIndex.headers['x-consul-index'], undefined);
  assert.deepEqual(noIndex.json(), { web: ['a'] });

  d.faults.malformed('bad-index');
  assert.equal((await call(d.url, '/v1/kv/x')).headers['x-consul-index'], 'not-a-number');

  d.faults.malformed(null);
  const node = (await call(d.url, '/v1/health/service/web')).json<Array<{ Node: unknown }>>()[0]!.Node;
  d.faults.malformed('missing-fields');
  assert.deepEqual((await call(d.url, '/v1/health/service/web')).json<unknown[]>()[0], { Node: node }, 'each entry keeps only its first field');
  d.faults.malformed('missing-fields', '/v1/catalog/service/');
  assert.deepEqual(Object.keys((await call(d.url, '/v1/catalog/service/web')).json<object[]>()[0]!), ['ID']);
  d.faults.malformed(null);
  assert.ok(Object.keys((await call(d.url, '/v1/catalog/service/web')).json<object[]>()[0]!).includes('ServiceAddress'));
});

test('dropParked destroys the sockets of parked queries only', async () => {
  const first = await call(d.url, '/v1/catalog/services');
  const parked = [1, 2].map(() => call(d.url, `/v1/catalog/services?index=${first.index}&wait=30s`).catch((e: unknown) => e));
  await eventually(() => assert.equal(d.stats.parked(), 2), 'queries parked');
  d.faults.dropParked();
  for (const p of parked) assert.ok((await p) instanceof Error, 'the parked request lost its socket');
  assert.equal(d.stats.parked(), 0);
  assert.equal((await call(d.url, '/v1/catalog/services')).status, 200);
});

test('a connection over http_max_conns_per_client gets 429 and is closed; open connections are counted', async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 10 });
  const first = await call(d.url, '/v1/catalog/services');
  const get = (path: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      request(`${d.url}${path}`, { agent }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      })
        .on('error', reject)
        .end();
    });
  // Start from no open connection (earlier clients keep idle keep-alive sockets, which count).
  await d.faults.down();
  await d.faults.up();
  await eventually(() => assert.equal(d.stats.openConnections(), 0), 'no connection left');
  d.stats.reset();
  const parked = Array.from({ length: 6 }, () => get(`/v1/catalog/services?index=${first.index}&wait=30s`).catch((e: unknown) => e));
  await eventually(() => assert.equal(d.stats.parked(), 6), 'six queries parked');
  assert.equal(d.stats.openConnections(), 6);
  assert.equal(d.stats.maxOpenConnections(), 6);

  const over = connect(d.port, '127.0.0.1');
  over.write('GET /v1/catalog/services HTTP/1.1\r\nHost: x\r\n\r\n');
  let raw = '';
  over.on('data', (c: Buffer) => (raw += c.toString()));
  await once(over, 'close');
  assert.match(raw, /^HTTP\/1\.1 429 Too Many Requests\r\n/);
  assert.match(raw, /Your IP is issuing too many concurrent connections, please rate limit your calls\n$/);
  assert.equal(d.stats.openConnections(), 6, 'the refused connection was never counted');

  d.faults.dropParked();
  await Promise.all(parked);
  agent.destroy();
  await eventually(() => assert.equal(d.stats.openConnections(), 0), 'connections closed');
  assert.equal(d.stats.maxOpenConnections(), 6);
  d.stats.reset();
  assert.equal(d.stats.maxOpenConnections(), 0);
});

test('stats: requests by path prefix, and a log with method, query and token', async () => {
  d.stats.reset();
  await call(d.url, '/v1/health/service/web?stale&token=t1');
  await call(d.url, '/v1/health/service/web', { headers: { 'X-Consul-Token': 't2' } });
  await call(d.url, '/v1/kv/a', { method: 'PUT', body: 'x' });
  assert.equal(d.stats.requests('/v1/health/service/web'), 2);
  assert.equal(d.stats.requests('/v1/'), 3);
  assert.equal(d.stats.requests(), 3);
  const log = d.stats.log();
  assert.deepEqual(log.map((e) => [e.method, e.path, e.token]), [['GET', '/v1/health/service/web', 't1'], ['GET', '/v1/health/service/web', 't2'], ['PUT', '/v1/kv/a', null]]);
  assert.deepEqual(log[0]!.query, { stale: '', token: 't1' });
  assert.ok(typeof log[0]!.at === 'number' && log[0]!.at > 0, 'a time stamp');
  d.stats.reset();
  assert.equal(d.stats.requests(), 0);
});
