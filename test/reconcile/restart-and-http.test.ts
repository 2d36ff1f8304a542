import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { FileSidecarSink } from '../../src/sinks/file-sidecar-sink.ts';
import { sidecar } from '../support/world-fixtures.ts';
import { harness } from './helpers.ts';

const PP = '127.0.0.10';

test('restart with the same state dir keeps every Sidecar and every ready pair (ready at once)', async () => {
  const stateDir = await tmp();
  const sink1 = new FileSidecarSink(stateDir);
  const a = await harness(sink1, { stateDir });
  a.lookup(PP, 'reviews');
  a.lookup('127.0.0.12', 'ratings');
  await a.clock.advance(1000);
  await a.scoping.settled(); // real file I/O: let the write land before time moves on
  await a.clock.advance(3000);
  a.lookup(PP, 'ratings'); // observed, written at stop(), not yet propagated
  assert.equal(a.lookup(PP, 'reviews').decision.route, 'mesh');
  await a.stop();
  const before = a.scoping.managedSidecars();

  const text = await readFile(sink1.path, 'utf8');
  const docs = parseAllDocuments(text);
  assert.equal(docs.length, 2, 'multi-document YAML, one per managed Sidecar');

  const b = await harness(new FileSidecarSink(stateDir), { stateDir, clock: a.clock });
  assert.deepEqual(b.scoping.managedSidecars(), before);
  assert.equal(b.lookup(PP, 'reviews').decision.route, 'mesh', 'ready immediately after restart');
  assert.equal(b.lookup('127.0.0.12', 'ratings').decision.route, 'mesh');
  assert.equal(b.lookup(PP, 'ratings').decision.reason, 'sidecar-pending', 'written just before the restart: still propagating');
  await b.clock.advance(3000);
  assert.equal(b.lookup(PP, 'ratings').decision.route, 'mesh');
  await b.stop();
});

test('a state file that cannot be parsed is never overwritten', async () => {
  const dir = await tmp();
  const { writeFile } = await import('node:fs/promises');
  await writeFile(`${dir}/sidecars.yaml`, 'apiVersion: [unclosed\n');
  const h = await harness(new FileSidecarSink(dir), { stateDir: dir });
  h.lookup(PP, 'reviews');
  await h.clock.advance(6000);
  await h.scoping.settled();
  assert.equal(await readFile(`${dir}/sidecars.yaml`, 'utf8'), 'apiVersion: [unclosed\n');
  assert.equal(h.scoping.status()['readBack'], 'failed');
  await h.stop();
});

test('end to end over HTTP: HAProxy first, a blocking query wakes when the pair is ready and gets the ClusterIP', async () => {
  const h = await harness(new FileSidecarSink(await tmp()));
  const http = h.core.test.app.http;
  try {
    const get = (url: string) => http.fastify.inject({ method: 'GET', url, remoteAddress: PP });
    const first = await get('/v1/health/service/reviews');
    assert.equal(first.statusCode, 200);
    const addrs = (r: { json(): unknown }) => (r.json() as Array<{ Service: { Address: string }; Node: { Address: string } }>).map((e) => e.Service.Address || e.Node.Address);
    assert.deepEqual(addrs(first).sort(), ['10.1.0.1']);
    const index = Number(first.headers['x-consul-index']);
    assert.ok(index > 0);

    const blocking = get(`/v1/health/service/reviews?index=${index}&wait=60s`);
    await h.clock.advance(1000); // Sidecar written
    await h.scoping.settled();
    await h.clock.advance(2000);
    assert.equal(http.waiting(), 1, 'still parked while the Sidecar propagates');
    await h.clock.advance(1000); // propagation delay over: pair ready
    const woke = await blocking;
    assert.ok(Number(woke.headers['x-consul-index']) > index);
    assert.deepEqual(addrs(woke), ['10.96.0.10']);

    // A user-owned Sidecar for another workload is left untouched (nothing written for it).
    h.core.setWorld({ kube: { ...h.core.world.current.kube, sidecars: [sidecar('web', 'by-hand', ['./*'], { selector: { app: 'frontend' } })] } });
    await http.fastify.inject({ method: 'GET', url: '/v1/health/service/reviews', remoteAddress: '127.0.0.12' });
    await h.clock.advance(6000);
    await h.scoping.settled();
    assert.deepEqual(h.scoping.managedSidecars().map((s) => (s as { metadata: { name: string } }).metadata.name), ['productpage']);
  } finally {
    await h.stop();
  }
});

async function tmp(): Promise<string> {
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  return mkdtemp(`${tmpdir()}/discovery-sidecars-`);
}

