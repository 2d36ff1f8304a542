// Live mode, HTTP passthrough against a raw node:http upstream: requests Discovery does not answer
// reach the upstream as they came and its answers come back as sent (hop-by-hop headers dropped
// both ways, bodies streamed), with the cap on blocking queries, the caller's disconnect, an
// unreachable upstream, the first sync and the freshness headers of Discovery's own answers.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { eventually } from '../support/eventually.ts';
import { call, indexOf, json, MESHED, UNMESHED, type Server } from './support.ts';
import { metricValue, RawUpstream, seenHeader, startLiveServer, TestUpstream } from './passthrough-support.ts';
import { isBlockingQuery, TOO_MANY_CONNECTIONS } from '../../src/frontends/http/passthrough.ts';

let up: RawUpstream;
let upstream: TestUpstream;
let s: Server;

before(async () => {
  up = await new RawUpstream().start();
  upstream = new TestUpstream(up.url, { maxBlocking: 2 });
  s = await startLiveServer(upstream);
});
after(async () => {
  await s.close();
  await up.close();
});

const header = seenHeader;
const lastSeen = () => up.seen[up.seen.length - 1]!;

test('a KV write with a token goes to the upstream as it came; the answer comes back as the upstream sent it', async () => {
  up.handler = (_req, res) => {
    res.writeHead(200, 'OK', ['Content-Type', 'application/json', 'X-Consul-Index', '42', 'X-Consul-Knownleader', 'true', 'X-Consul-Lastcontact', '0', 'X-Consul-Custom', 'kept', 'X-Cache', 'HIT', 'Age', '3']);
    res.end('true');
  };
  const path = '/v1/kv/app/config?cas=0&flags=7&token=query-secret&separator=%2F';
  const r = await call(s.port, path, { method: 'PUT', body: 'value bytes', headers: { 'X-Consul-Token': 'header-secret', Authorization: 'Bearer bearer-secret' } });
  assert.equal(r.status, 200);
  assert.equal(r.body, 'true');
  assert.equal(r.headers['x-consul-index'], '42');
  assert.equal(r.headers['x-consul-custom'], 'kept');
  assert.equal(r.headers['x-cache'], 'HIT');
  assert.equal(r.headers['age'], '3');
  assert.equal(r.headers['content-type'], 'application/json');
  const seen = lastSeen();
  assert.equal(seen.method, 'PUT');
  assert.equal(seen.url, path, 'path and raw query unchanged');
  assert.equal(seen.body.toString(), 'value bytes');
  assert.equal(header(seen, 'X-Consul-Token'), 'header-secret');
  assert.equal(header(seen, 'Authorization'), 'Bearer bearer-secret');
  assert.equal(await metricValue(s, 'discovery_passthrough_requests_total', { reason: 'not-answered', status_class: '2xx' }), 1);
});

test('unknown paths, agent endpoints, status and other datacenters go upstream; our datacenter is answered locally', async () => {
  up.handler = (req, res) => {
    res.writeHead(404, ['Content-Type', 'text/plain; charset=utf-8']);
    res.end(`upstream saw ${req.url}`);
  };
  const before = up.seen.length;
  const unknown = await call(s.port, '/v1/no/such/endpoint?x=1');
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body, 'upstream saw /v1/no/such/endpoint?x=1');
  assert.equal((await call(s.port, '/v1/agent/self')).body, 'upstream saw /v1/agent/self');
  assert.equal((await call(s.port, '/v1/status/leader')).body, 'upstream saw /v1/status/leader');
  assert.equal((await call(s.port, '/v1/health/service/reviews?dc=dc2', { from: UNMESHED })).body, 'upstream saw /v1/health/service/reviews?dc=dc2');
  assert.equal((await call(s.port, '/v1/health/service/reviews?peer=other')).body, 'upstream saw /v1/health/service/reviews?peer=other');
  assert.equal(up.seen.length, before + 5);

  const local = await call(s.port, '/v1/health/service/reviews?dc=dc1', { from: UNMESHED });
  assert.equal(local.status, 200);
  assert.equal(json<unknown[]>(local).length, 2);
  assert.equal(up.seen.length, before + 5, 'our own datacenter is not passed through');
  assert.equal(await metricValue(s, 'discovery_passthrough_requests_total', { reason: 'other-dc' }), 1);
});

test('agent registrations and check updates go to the upstream agent, not the local emulation', async () => {
  up.handler = (_req, res) => {
    res.writeHead(200);
    res.end();
  };
  const body = JSON.stringify({ ID: 'orders-1', Name: 'orders', Port: 8080, Check: { TTL: '30s' } });
  assert.equal((await call(s.port, '/v1/agent/service/register?replace-existing-checks=true', { method: 'PUT', body })).status, 200);
  const reg = lastSeen();
  assert.equal(reg.url, '/v1/agent/service/register?replace-existing-checks=true');
  assert.equal(reg.body.toString(), body);
  assert.equal((await call(s.port, '/v1/agent/check/pass/service:orders-1?note=ok', { method: 'PUT' })).status, 200);
  assert.equal(lastSeen().url, '/v1/agent/check/pass/service:orders-1?note=ok');
  assert.equal((await call(s.port, '/v1/agent/service/deregister/orders-1', { method: 'PUT' })).status, 200);
  assert.deepEqual(s.core.test.app.agent.services(), [], 'nothing was registered locally');
  assert.equal(await metricValue(s, 'discovery_passthrough_requests_total', { reason: 'agent-write' }), 3);
});

test('hop-by-hop headers are dropped both ways, with those the Connection header names', async () => {
  up.handler = (_req, res) => {
    res.writeHead(200, [
      'Content-Type', 'application/json',
      'Connection', 'keep-alive, X-Upstream-Private',
      'X-Upstream-Private', 'secret',
      'Keep-Alive', 'timeout=60',
      'Proxy-Authenticate', 'Basic',
      'Trailer', 'X-Trailer',
      'X-Consul-Index', '9',
      'X-Consul-Effective-Consistency', 'leader',
    ]);
    res.end('[]');
  };
  const r = await call(s.port, '/v1/txn', {
    method: 'PUT',
    body: '[]',
    headers: { Connection: 'keep-alive, X-Caller-Private', 'X-Caller-Private': '1', 'Keep-Alive': 'timeout=5', 'Proxy-Authorization': 'Basic abc', TE: 'trailers', 'X-Consul-Token': 't' },
  });
  assert.equal(r.status, 200);
  const seen = lastSeen();
  for (const h of ['X-Caller-Private', 'Keep-Alive', 'Proxy-Authorization', 'TE']) assert.equal(header(seen, h), undefined, `${h} must not reach the upstream`);
  assert.equal(header(seen, 'X-Consul-Token'), 't');
  for (const h of ['x-upstream-private', 'proxy-authenticate', 'trailer']) assert.equal(r.headers[h], undefined, `${h} must not reach the caller`);
  assert.notEqual(r.headers['keep-alive'], 'timeout=60', "the upstream's Keep-Alive is not the caller's");
  assert.equal(r.headers['x-consul-index'], '9');
  assert.equal(r.headers['x-consul-effective-consistency'], 'leader');
});

test('large bodies stream both ways: the upstream sees the first bytes before the caller has sent the rest, and the caller gets the answer as it is written', async () => {
  const chunk = Buffer.alloc(1024 * 1024, 'a');
  let received = 0;
  let release: (() => void) | null = null;
  up.bufferBodies = false;
  up.handler = (req, res) => {
    req.on('data', (c: Buffer) => (received += c.length));
    req.on('end', () => {
      res.writeHead(200, ['Content-Type', 'application/octet-stream']);
      res.write(chunk);
      // The rest of the answer only once the caller has seen its first megabyte.
      release = () => {
        for (let i = 0; i < 7; i++) res.write(chunk);
        res.end();
      };
    });
  };
  try {
    const answer = new Promise<{ status: number; bytes: number; firstSeen: Promise<void> }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: s.port, path: '/v1/snapshot', method: 'PUT', agent: false, headers: { 'Content-Length': String(chunk.length * 8) } }, (res) => {
        let bytes = 0;
        let firstResolve: () => void = () => undefined;
        const firstSeen = new Promise<void>((r) => (firstResolve = r));
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          if (bytes >= chunk.length) firstResolve();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, firstSeen }));
        res.on('error', reject);
        void firstSeen.then(() => release?.());
      });
      req.on('error', reject);
      req.write(chunk);
      // Streamed, not buffered: the upstream has bytes while 7 MiB are still to come.
      void eventually(() => assert.ok(received > 0, 'no bytes at the upstream yet'), 'the upstream to see the first bytes').then(() => {
        for (let i = 0; i < 7; i++) req.write(chunk);
        req.end();
      }, reject);
    });
    const r = await answer;
    assert.equal(r.status, 200);
    assert.equal(received, chunk.length * 8);
    assert.equal(r.bytes, chunk.length * 8);
  } finally {
    up.bufferBodies = true;
  }
});

test('a caller that goes away aborts its passed-through blocking query at the upstream', async () => {
  up.handler = () => undefined; // holds every request, as a blocking query does
  const abort = new AbortController();
  const pending = call(s.port, '/v1/kv/app/config?index=12&wait=5m', { signal: abort.signal }).catch((e: unknown) => e);
  await eventually(() => assert.equal(lastSeen().url, '/v1/kv/app/config?index=12&wait=5m'), 'the blocking query to reach the upstream');
  assert.equal(await metricValue(s, 'discovery_passthrough_inflight', { blocking: 'true' }), 1);
  abort.abort();
  await pending;
  await eventually(() => assert.ok(up.abandoned.includes('/v1/kv/app/config?index=12&wait=5m'), 'still open at the upstream'), 'the upstream to see the request go away');
  await eventually(async () => assert.equal(await metricValue(s, 'discovery_passthrough_inflight', { blocking: 'true' }), 0), 'the in-flight gauge to drop');
});

test(`over maxBlocking blocking queries in flight, the next is a 429 with Consul's text; non-blocking requests still pass`, async () => {
  const held: Array<() => void> = [];
  up.handler = (req, res) => {
    if (!isBlockingQuery(req.url ?? '')) {
      res.writeHead(200, ['Content-Type', 'application/json']);
      res.end('"non-blocking"');
      return;
    }
    held.push(() => {
      res.writeHead(200, ['Content-Type', 'application/json', 'X-Consul-Index', '13']);
      res.end('"woke"');
    });
  };
  const parked = [call(s.port, '/v1/kv/a?index=12'), call(s.port, '/v1/kv/b?index=12&wait=1m')];
  await eventually(() => assert.equal(held.length, 2), 'two blocking queries held upstream');
  const rejected = await call(s.port, '/v1/kv/c?index=12');
  assert.equal(rejected.status, 429);
  assert.equal(rejected.body, TOO_MANY_CONNECTIONS);
  assert.equal(rejected.headers['content-type'], 'text/plain');
  assert.equal(await metricValue(s, 'discovery_passthrough_rejected_total'), 1);
  // index=0 is not blocking (Consul answers at once).
  assert.equal((await call(s.port, '/v1/kv/d?index=0')).body, '"non-blocking"');
  assert.equal((await call(s.port, '/v1/kv/e')).body, '"non-blocking"');
  for (const release of held) release();
  assert.deepEqual((await Promise.all(parked)).map((r) => r.body), ['"woke"', '"woke"']);
  // Capacity is back.
  const again = call(s.port, '/v1/kv/c?index=12');
  await eventually(() => assert.equal(held.length, 3), 'the retried query to reach the upstream');
  held[2]!();
  assert.equal((await again).status, 200);
});

/** Raw headers without those that differ between any two answers (Date) or belong to the connection. */
function comparable(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (!['date', 'connection', 'keep-alive'].includes(raw[i]!.toLowerCase())) out.push(raw[i]!, raw[i + 1]!);
  return out;
}

test("kill-switch on: every request, the fast-path reads included, gets the upstream's own bytes", async () => {
  up.handler = (req, res) => {
    const body = Buffer.from(JSON.stringify([{ Upstream: req.url, Note: '<&>' }]));
    const status = req.url === '/v1/catalog/service/' ? 400 : 200;
    res.writeHead(status, [
      'Content-Type', 'application/json',
      'Vary', 'Accept-Encoding',
      'X-Consul-Default-Acl-Policy', 'deny',
      'X-Consul-Effective-Consistency', 'leader',
      'X-Consul-Index', '77',
      'X-Consul-Knownleader', 'true',
      'X-Consul-Lastcontact', '0',
      'X-Consul-Query-Backend', 'blocking-query',
      'Content-Length', String(body.length),
    ]);
    res.end(body);
  };
  const upPort = Number(new URL(up.url).port);
  const local = await call(s.port, '/v1/health/service/reviews', { from: MESHED });
  await s.core.control.setMode('consul-only', { actor: 'test', reason: 'test' });
  try {
    const paths = ['/v1/health/service/reviews', '/v1/health/service/reviews?passing&index=1', '/v1/catalog/service/reviews?tag=v1', '/v1/catalog/services', '/v1/catalog/service/', '/v1/agent/self', '/'];
    for (const path of paths) {
      const via = await call(s.port, path, { from: MESHED, headers: { 'Accept-Encoding': 'gzip' } });
      const direct = await call(upPort, path, { headers: { 'Accept-Encoding': 'gzip' } });
      assert.equal(via.status, direct.status, path);
      assert.equal(via.body, direct.body, path);
      assert.deepEqual(comparable(via.rawHeaders), comparable(direct.rawHeaders), path);
    }
    assert.equal(await metricValue(s, 'discovery_passthrough_requests_total', { reason: 'killswitch' }), paths.length);

    // A blocking read holding Discovery's own index: the upstream would sit on it for the whole
    // wait, so it goes without the index (answered at once; the client then follows the upstream).
    const parked = await call(s.port, `/v1/health/service/reviews?passing&index=${indexOf(local)}&wait=5m`, { from: MESHED });
    assert.equal(parked.status, 200);
    assert.equal(up.seen[up.seen.length - 1]!.url, '/v1/health/service/reviews?passing&wait=5m');
    // KV indexes are the upstream's own: kept as sent.
    await call(s.port, `/v1/kv/app?index=${indexOf(local)}`);
    assert.equal(up.seen[up.seen.length - 1]!.url, `/v1/kv/app?index=${indexOf(local)}`);
  } finally {
    await s.core.control.setMode('hybrid', { actor: 'test', reason: 'test' });
  }
  assert.equal((await call(s.port, '/v1/health/service/reviews', { from: MESHED })).body, local.body, 'switch off: Discovery answers again');
});

test('before the Consul source has synced, discovery reads pass through; after, Discovery answers them', async () => {
  up.handler = (_req, res) => {
    res.writeHead(200, ['Content-Type', 'application/json', 'X-Consul-Index', '5']);
    res.end('["from upstream"]');
  };
  upstream.isSynced = false;
  try {
    const r = await call(s.port, '/v1/health/service/reviews', { from: MESHED });
    assert.equal(r.body, '["from upstream"]');
    assert.equal(lastSeen().url, '/v1/health/service/reviews');
    assert.equal((await call(s.port, '/v1/catalog/services')).body, '["from upstream"]');
    assert.equal(await metricValue(s, 'discovery_passthrough_requests_total', { reason: 'unsynced' }), 2);
  } finally {
    upstream.isSynced = true;
  }
  const before = up.seen.length;
  const local = await call(s.port, '/v1/health/service/reviews', { from: MESHED });
  assert.notEqual(local.body, '["from upstream"]');
  assert.equal(up.seen.length, before);
});

test('while the upstream is out of reach, Discovery’s own answers say so: X-Consul-Knownleader false and a growing X-Consul-Lastcontact', async () => {
  const fresh = await call(s.port, '/v1/health/service/reviews', { from: UNMESHED });
  assert.equal(fresh.headers['x-consul-knownleader'], 'true');
  assert.equal(fresh.headers['x-consul-lastcontact'], '0');

  upstream.reachable = false;
  upstream.lastContactAt = Date.now() - 5_000;
  try {
    const first = await call(s.port, '/v1/health/service/reviews', { from: UNMESHED });
    assert.equal(first.status, 200);
    assert.equal(first.headers['x-consul-knownleader'], 'false');
    const ms = Number(first.headers['x-consul-lastcontact']);
    assert.ok(ms >= 5_000, `LastContact ${ms} counts from the last contact`);
    await eventually(async () => {
      const later = await call(s.port, '/v1/catalog/services', { from: UNMESHED });
      assert.equal(later.headers['x-consul-knownleader'], 'false');
      assert.ok(Number(later.headers['x-consul-lastcontact']) > ms, 'LastContact grows');
    }, 'LastContact to grow');
  } finally {
    upstream.reachable = true;
  }
  const back = await call(s.port, '/v1/health/service/reviews', { from: UNMESHED });
  assert.equal(back.headers['x-consul-knownleader'], 'true');
  assert.equal(back.headers['x-consul-lastcontact'], '0');
});

test("the upstream's default ACL policy, once seen, is the one Discovery's answers carry", async () => {
  up.handler = (_req, res) => {
    res.writeHead(404, ['Content-Type', 'text/plain; charset=utf-8', 'X-Consul-Default-Acl-Policy', 'deny']);
    res.end();
  };
  await call(s.port, '/v1/kv/missing');
  const r = await call(s.port, '/v1/health/service/reviews', { from: UNMESHED });
  assert.equal(r.headers['x-consul-default-acl-policy'], 'deny');
});

test('an upstream nobody listens on is a 500 naming it and the error code, at once', async () => {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const p = (probe.address() as { port: number }).port;
      probe.close(() => resolve(p));
    });
  });
  const down = await startLiveServer(new TestUpstream(`http://127.0.0.1:${port}`));
  try {
    const r = await call(down.port, '/v1/kv/app/config');
    assert.equal(r.status, 500);
    assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
    assert.match(r.body, new RegExp(`upstream Consul agent at http://127\\.0\\.0\\.1:${port}: ECONNREFUSED`));
    assert.equal(await metricValue(down, 'discovery_passthrough_requests_total', { reason: 'not-answered', status_class: '5xx' }), 1);
  } finally {
    await down.close();
  }
});
