// Per-caller answers, the kill-switch and pins waking blocking queries, the real `consul` npm
// client, and X-Consul-Index monotonicity across random change sequences.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Consul from 'consul';
import fc from 'fast-check';
import { standardWorld, catalog, kube } from '../support/world-fixtures.ts';
import { agentFrom, call, indexOf, json, MESHED, startServer, UNKNOWN, UNMESHED, type Server } from './support.ts';
import { eventually } from '../support/eventually.ts';

const who = { actor: 'test', reason: 'test' };
type Entry = { Node: { Node: string; Address: string }; Service: { Address: string; Port: number }; Checks: Array<{ Status: string }> };

/** reviews with one more HAProxy instance: a Consul change. */
function reviewsGrown() {
  const w = standardWorld();
  const consul = catalog([
    { service: 'reviews', node: 'haproxy-reviews-1', address: '10.1.0.1', port: 9080, tags: ['v1', 'primary'] },
    { service: 'reviews', node: 'haproxy-reviews-2', address: '10.1.0.2', port: 9080, tags: ['v1'] },
    { service: 'reviews', node: 'haproxy-reviews-3', address: '10.1.0.3', port: 9080, tags: ['v1'] },
    { service: 'ratings', node: 'haproxy-ratings-1', address: '10.1.1.1', port: 9080 },
    { service: 'details', node: 'haproxy-details-1', address: '10.1.2.1', port: 9080 },
  ]);
  return { consul, kube: w.kube };
}

/** reviews no longer in Kubernetes: a mesh-state change. */
function reviewsUnmigrated() {
  const w = standardWorld();
  return { consul: w.consul, kube: kube({ ...w.kube, services: w.kube.services.filter((s) => s.name !== 'reviews') }) };
}

let s: Server;
/** Waits until the server holds one parked blocking query, so the next change is what must wake it. */
const oneQueryParked = () => eventually(() => assert.equal(s.front.waiting(), 1), 'a blocking query to park');
before(async () => {
  s = await startServer();
});
after(() => s.close());

const addresses = (body: Entry[]) => body.map((e) => `${e.Service.Address || e.Node.Address}:${e.Service.Port}`).sort();

test('meshed caller gets the ClusterIP; unmeshed and unknown callers get HAProxy', async () => {
  const meshed = json<Entry[]>(await call(s.port, '/v1/health/service/reviews', { from: MESHED }));
  assert.deepEqual(addresses(meshed), ['10.96.0.10:9080']);
  assert.deepEqual(meshed[0]!.Checks.map((c) => c.Status), ['passing']);
  for (const from of [UNMESHED, UNKNOWN]) {
    assert.deepEqual(addresses(json(await call(s.port, '/v1/health/service/reviews', { from }))), ['10.1.0.1:9080', '10.1.0.2:9080']);
  }
  const cat = json<Array<{ ServiceAddress: string; ServicePort: number }>>(await call(s.port, '/v1/catalog/service/reviews', { from: MESHED }));
  assert.deepEqual(cat.map((e) => `${e.ServiceAddress}:${e.ServicePort}`), ['10.96.0.10:9080']);
  // A service that is not migrated is Consul's answer for everyone.
  assert.deepEqual(addresses(json(await call(s.port, '/v1/health/service/ratings', { from: MESHED }))), ['10.1.1.1:9080']);
  // The lookup was observed for the Sidecar reconciler.
  assert.ok(s.core.observations.some((o) => o.service === 'reviews' && o.caller.ip === MESHED && o.via === 'http'));
});

test('a tag narrows the mesh answer only through Consul instances: matching tag keeps it, unknown tag empties it', async () => {
  assert.deepEqual(addresses(json(await call(s.port, '/v1/health/service/reviews?tag=primary', { from: MESHED }))), ['10.96.0.10:9080']);
  assert.equal((await call(s.port, '/v1/health/service/reviews?tag=nope', { from: MESHED })).body, '[]');
});

test('kill-switch and back: a parked meshed query wakes each time, with a higher index and the flipped answer', async () => {
  const first = await call(s.port, '/v1/health/service/reviews', { from: MESHED });
  assert.deepEqual(addresses(json(first)), ['10.96.0.10:9080']);
  const parked = call(s.port, `/v1/health/service/reviews?index=${indexOf(first)}&wait=30s`, { from: MESHED });
  await oneQueryParked();
  await s.core.control.setMode('consul-only', who);
  const killed = await parked;
  assert.ok(indexOf(killed) > indexOf(first));
  assert.deepEqual(addresses(json(killed)), ['10.1.0.1:9080', '10.1.0.2:9080']);
  // With the kill-switch on, the answer is byte for byte the unmeshed caller's (Consul's).
  assert.equal(killed.body, (await call(s.port, '/v1/health/service/reviews', { from: UNMESHED })).body);

  const parked2 = call(s.port, `/v1/health/service/reviews?index=${indexOf(killed)}&wait=30s`, { from: MESHED });
  await oneQueryParked();
  await s.core.control.setMode('hybrid', who);
  const back = await parked2;
  assert.ok(indexOf(back) > indexOf(killed));
  assert.deepEqual(addresses(json(back)), ['10.96.0.10:9080']);
});

test('Kubernetes data stale and back: a parked meshed query wakes each time, HAProxy (kube-stale) while stale, the ClusterIP after', async () => {
  const first = await call(s.port, '/v1/health/service/reviews', { from: MESHED });
  assert.deepEqual(addresses(json(first)), ['10.96.0.10:9080']);
  const parked = call(s.port, `/v1/health/service/reviews?index=${indexOf(first)}&wait=30s`, { from: MESHED });
  await oneQueryParked();
  s.core.test.kube.setStale(true);
  const stale = await parked;
  assert.ok(indexOf(stale) > indexOf(first));
  assert.equal(stale.body, (await call(s.port, '/v1/health/service/reviews', { from: UNMESHED })).body);
  assert.equal(s.core.lookups.evaluate(MESHED, 'reviews').decision.reason, 'kube-stale');

  const parked2 = call(s.port, `/v1/health/service/reviews?index=${indexOf(stale)}&wait=30s`, { from: MESHED });
  await oneQueryParked();
  s.core.test.kube.setStale(false);
  const back = await parked2;
  assert.ok(indexOf(back) > indexOf(stale));
  assert.deepEqual(addresses(json(back)), ['10.96.0.10:9080']);
});

test('pin and unpin wake a parked query and flip the answer', async () => {
  const first = await call(s.port, '/v1/health/service/reviews', { from: MESHED });
  const parked = call(s.port, `/v1/health/service/reviews?index=${indexOf(first)}&wait=30s`, { from: MESHED });
  await oneQueryParked();
  await s.core.control.pin('reviews', undefined, who);
  const pinned = await parked;
  assert.ok(indexOf(pinned) > indexOf(first));
  assert.deepEqual(addresses(json(pinned)), ['10.1.0.1:9080', '10.1.0.2:9080']);

  const parked2 = call(s.port, `/v1/health/service/reviews?index=${indexOf(pinned)}&wait=30s`, { from: MESHED });
  await oneQueryParked();
  await s.core.control.unpin('reviews', undefined, who);
  const unpinned = await parked2;
  assert.ok(indexOf(unpinned) > indexOf(pinned));
  assert.deepEqual(addresses(json(unpinned)), ['10.96.0.10:9080']);
});

test('consul npm client: health.service and catalog.service.nodes, bound to the meshed and unmeshed callers', async () => {
  const meshedAgent = agentFrom(MESHED);
  const plainAgent = agentFrom(UNMESHED);
  try {
    const meshed = new Consul({ host: '127.0.0.1', port: s.port, agent: meshedAgent });
    const plain = new Consul({ host: '127.0.0.1', port: s.port, agent: plainAgent });
    const h = (await meshed.health.service('reviews')) as Entry[];
    assert.deepEqual(addresses(h), ['10.96.0.10:9080']);
    const hp = (await plain.health.service({ service: 'reviews', passing: true })) as Entry[];
    assert.deepEqual(addresses(hp), ['10.1.0.1:9080', '10.1.0.2:9080']);
    const nodes = (await plain.catalog.service.nodes({ service: 'reviews', tag: 'primary' })) as Array<{ Node: string }>;
    assert.deepEqual(nodes.map((n) => n.Node), ['haproxy-reviews-1']);
    const services = (await plain.catalog.service.list()) as Record<string, string[]>;
    assert.deepEqual(Object.keys(services).sort(), ['details', 'ratings', 'reviews']);
    assert.equal(await plain.status.leader(), '127.0.0.1:8300');
  } finally {
    meshedAgent.destroy();
    plainAgent.destroy();
  }
});

test('consul npm client: watch wakes when the world changes', async () => {
  const agent = agentFrom(UNMESHED);
  const consul = new Consul({ host: '127.0.0.1', port: s.port, agent });
  // The client's documented watch API takes the unbound method and calls it on the client itself.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const watch = consul.watch({ method: consul.health.service, options: { service: 'reviews', wait: '30s' } });
  const seen: number[] = [];
  const errors: unknown[] = [];
  watch.on('error', (err: unknown) => errors.push(err));
  try {
    await new Promise<void>((resolve, reject) => {
      watch.on('change', (data: Entry[]) => {
        seen.push(data.length);
        // Change the world once the watch's next request is parked, so the change is what wakes it.
        if (seen.length === 1) oneQueryParked().then(() => s.core.setWorld(reviewsGrown()), reject);
        else resolve();
      });
    });
    assert.deepEqual(seen, [2, 3]);
    assert.deepEqual(errors, []);
  } finally {
    watch.end();
    agent.destroy();
    s.core.setWorld(standardWorld());
  }
});

test('X-Consul-Index never 0, never backwards, and rises whenever the answer changes (random change sequences)', async () => {
  const op = fc.oneof(
    fc.constantFrom('world:standard', 'world:grown', 'world:unmigrated', 'mode:hybrid', 'mode:consul-only', 'mode:shadow', 'pin', 'unpin', 'pin:caller'),
  );
  // Per caller, across every run: the index a client saw must hold for the whole life of the server.
  const last = new Map<string, { index: number; body: string }>();
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 8 }), fc.constantFrom(MESHED, UNMESHED), async (ops, from) => {
      for (const o of ops) {
        if (o === 'world:standard') s.core.setWorld(standardWorld());
        else if (o === 'world:grown') s.core.setWorld(reviewsGrown());
        else if (o === 'world:unmigrated') s.core.setWorld(reviewsUnmigrated());
        else if (o.startsWith('mode:')) await s.core.control.setMode(o.slice(5) as 'hybrid', who);
        else if (o === 'pin') await s.core.control.pin('reviews', undefined, who);
        else if (o === 'pin:caller') await s.core.control.pin('reviews', 'bookinfo/productpage', who);
        else if (s.core.control.pinFor('reviews', null)) await s.core.control.unpin('reviews', undefined, who);
        const r = await call(s.port, '/v1/health/service/reviews', { from });
        const idx = indexOf(r);
        const prev = last.get(from) ?? { index: 0, body: '' };
        assert.ok(idx >= 1, 'never 0');
        assert.ok(idx >= prev.index, `never backwards: ${prev.index} -> ${idx} after ${o}`);
        if (prev.body !== '' && r.body !== prev.body) assert.ok(idx > prev.index, `answer changed after ${o} without a new index`);
        last.set(from, { index: idx, body: r.body });
      }
    }),
    { numRuns: 25 },
  );
  // Leave the shared server as the other tests expect it.
  await s.core.control.setMode('hybrid', who);
  for (const p of s.core.control.state.pins) await s.core.control.unpin(p.service, p.caller, who);
  s.core.setWorld(standardWorld());
});
