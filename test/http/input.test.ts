// Invariant 7 for HTTP: odd or hostile requests get a clear 4xx/5xx, never a crash, never a state change.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { readdir } from 'node:fs/promises';
import { call, indexOf, startServer, UNMESHED, type Server } from './support.ts';

let s: Server;
before(async () => {
  s = await startServer();
});
after(() => s.close());

/** Raw bytes on a socket: for requests an HTTP client library would refuse to send. */
function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port }, () => sock.end(text));
    let out = '';
    sock.on('data', (d: Buffer) => (out += d.toString('latin1')));
    sock.on('end', () => resolve(out));
    sock.on('close', () => resolve(out));
    sock.on('error', reject);
  });
}

async function stillHealthy(): Promise<void> {
  const r = await call(s.port, '/v1/health/service/reviews', { from: UNMESHED });
  assert.equal(r.status, 200);
  assert.ok(indexOf(r) >= 1);
}

test('path traversal and dot segments are a 400', async () => {
  for (const p of ['/v1/catalog/service/../../etc/passwd', '/v1/catalog/service/a/../b', '/v1/health/service/./x', '/v1/catalog/service/%2e%2e/%2e%2e/etc']) {
    const r = await call(s.port, p);
    assert.ok(r.status === 400 || r.status === 404, `${p} -> ${r.status}`);
    assert.match(String(r.headers['content-type']), /^text\/plain/);
  }
  await stillHealthy();
});

test('percent-encoded junk and non-printable characters are a 4xx', async () => {
  for (const p of ['/v1/catalog/service/%zz', '/v1/catalog/service/%00abc', '/v1/health/service/a%0Ab', '/v1/catalog/service/%', '/v1/catalog/services?%zz=%%&tag=%ff']) {
    const r = await call(s.port, p);
    assert.ok(r.status >= 200 && r.status < 500, `${p} -> ${r.status}`);
    if (p.includes('/service/')) assert.ok(r.status >= 400, `${p} -> ${r.status}`);
  }
  const ctl = await raw(s.port, 'GET /v1/catalog/service/a\x01b HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.match(ctl, /^HTTP\/1\.1 4\d\d/);
  await stillHealthy();
});

test('a ~100 KB query string is refused with a 4xx', async () => {
  const r = await raw(s.port, `GET /v1/catalog/services?filter=${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
  assert.match(r, /^HTTP\/1\.1 4\d\d/);
  await stillHealthy();
});

test('garbage request lines and headers are a 400', async () => {
  for (const text of ['NONSENSE\r\n\r\n', 'GET\r\n\r\n', 'GET / HTTP/9.9\r\n\r\n', 'GET /v1/catalog/services HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n']) {
    const r = await raw(s.port, text);
    assert.match(r, /^HTTP\/1\.1 4\d\d/, JSON.stringify(text));
  }
  await stillHealthy();
});

test('bad parameter values get Consul errors', async () => {
  const cases: Array<[string, number, string]> = [
    ['/v1/catalog/services?wait=abc&index=1', 400, 'Invalid wait time'],
    ['/v1/catalog/services?wait=-&index=1', 400, 'Invalid wait time'],
    ['/v1/catalog/services?index=-1', 400, 'Invalid index'],
    ['/v1/catalog/services?index=99999999999999999999999', 400, 'Invalid index'],
    ['/v1/catalog/services?max_stale=zz', 400, 'Invalid max_stale value "zz"'],
    ['/v1/catalog/services?ns=default', 400, 'Invalid query parameter: "ns" - Namespaces are a Consul Enterprise feature'],
    ['/v1/catalog/services?partition=default', 400, 'Invalid query parameter: "partition" - Partitions are a Consul Enterprise feature'],
    ['/v1/catalog/services?consistent&cached', 400, 'Cannot specify ?cached with ?consistent, conflicting semantics.'],
    ['/v1/health/service/', 400, 'Missing service name'],
    ['/v1/health/node/', 400, 'Missing node name'],
    ['/v1/health/state/', 400, 'Missing check state'],
    ['/v1/agent/members?wan=1&segment=x', 400, 'Cannot provide a segment with wan=true'],
  ];
  for (const [p, status, body] of cases) {
    const r = await call(s.port, p);
    assert.equal(r.status, status, p);
    assert.equal(r.body, body, p);
  }
  const bad = await call(s.port, '/v1/health/service/reviews?filter=Service.Address%20%3D%3D%2010.0.0.1');
  assert.equal(bad.status, 500);
  assert.ok(bad.body.startsWith('Failed to create boolean expression evaluator: '), bad.body);
  const unknownSel = await call(s.port, '/v1/catalog/service/reviews?filter=Nope%20%3D%3D%20x');
  assert.equal(unknownSel.status, 500);
  // The 400s come first, in Consul's order.
  assert.equal((await call(s.port, '/v1/catalog/services?dc=nope&index=x')).body, 'Invalid index');
  await stillHealthy();
});

test('bad PUT bodies are a 400 and change nothing on disk or in the catalog', async () => {
  const before = await readdir(s.core.stateDir);
  const cases: Array<[string, string]> = [
    ['{not json', 'Request decode failed'],
    ['[]', 'Request decode failed'],
    ['{"ID":"x"}', 'Missing service name'],
    ['{"Name":"x","Port":"80"}', 'Request decode failed'],
    ['{"Name":"x","Tags":"a"}', 'Request decode failed'],
    ['{"Name":"x","Check":{"TTL":"soon"}}', 'Request decode failed'],
    ['', 'Request decode failed'],
  ];
  for (const [body, msg] of cases) {
    const r = await call(s.port, '/v1/agent/service/register', { method: 'PUT', body, headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 400, body);
    assert.ok(r.body.startsWith(msg), `${body}: ${r.body}`);
  }
  const huge = await call(s.port, '/v1/agent/service/register', { method: 'PUT', body: `{"Name":"${'x'.repeat(2 * 1024 * 1024)}"}` }).catch((e: Error) => e);
  if (!(huge instanceof Error)) assert.equal(huge.status, 413);
  assert.deepEqual(await readdir(s.core.stateDir), before);
  assert.equal((await call(s.port, '/v1/agent/services')).body, '{}');
  await stillHealthy();
});

test('tokens are accepted in all three forms and ignored', async () => {
  const forms: Array<{ q?: string; h?: Record<string, string> }> = [{ q: '?token=secret' }, { h: { 'X-Consul-Token': 'secret' } }, { h: { Authorization: 'Bearer secret' } }];
  for (const o of forms) {
    const r = await call(s.port, `/v1/catalog/services${o.q ?? ''}`, { headers: o.h });
    assert.equal(r.status, 200);
  }
});
