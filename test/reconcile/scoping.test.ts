import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemorySidecarSink } from '../../src/sinks/memory-sidecar-sink.ts';
import type { ChangeSet } from '../../src/world/changes.ts';
import { sidecar } from '../support/world-fixtures.ts';
import { harness, meshWorld } from './helpers.ts';

const PP = '127.0.0.10';
const REVIEWS = 'bookinfo/reviews.bookinfo.svc.cluster.local';
const RATINGS = 'bookinfo/ratings.bookinfo.svc.cluster.local';

test('first lookup gets HAProxy (sidecar-pending); after write + propagation delay the ClusterIP, with a higher index and a wake-up', async () => {
  const sink = new MemorySidecarSink();
  const h = await harness(sink);
  const first = h.lookup(PP, 'reviews');
  assert.equal(first.decision.route, 'consul');
  assert.equal(first.decision.reason, 'sidecar-pending');
  const changes: ChangeSet[] = [];
  h.core.bus.subscribe((c) => changes.push(c));

  await h.clock.advance(1000); // quiet period: written
  assert.equal(sink.writes.length, 1);
  assert.deepEqual(sink.writes[0]!.spec.egress[0]!.hosts, [REVIEWS, 'istio-system/*'].sort());
  assert.equal(h.lookup(PP, 'reviews').decision.reason, 'sidecar-pending', 'written but not propagated');

  await h.clock.advance(2999);
  assert.equal(h.lookup(PP, 'reviews').decision.route, 'consul');
  await h.clock.advance(1);
  const ready = h.lookup(PP, 'reviews');
  assert.equal(ready.decision.route, 'mesh');
  assert.equal(ready.instances[0]!.service.Address, '10.96.0.10');
  assert.ok(ready.index > first.index, 'index rises when the pair becomes ready');
  const wake = changes.find((c) => c.callers.has(PP));
  assert.ok(wake && wake.callers.has('127.0.0.11'), 'every Pod of the workload is woken');
  // The other Pod of the workload shares the Sidecar.
  assert.equal(h.lookup('127.0.0.11', 'reviews').decision.route, 'mesh');
  // Another target is still pending for this workload.
  assert.equal(h.lookup(PP, 'ratings').decision.reason, 'sidecar-pending');
  const explain = h.scoping.explainPair(h.lookups.caller(PP)!, 'reviews');
  assert.equal(explain['gate'], 'ready');
  assert.equal(explain['readyAt'], '2026-03-01T00:00:04.000Z');
  await h.stop();
});

test('debounce: a burst of lookups becomes one write per workload per window', async () => {
  const sink = new MemorySidecarSink();
  const h = await harness(sink, { world: meshWorld({ targets: 30 }) });
  for (let i = 0; i < 30; i++) {
    h.lookup(PP, `svc${i}`);
    h.lookup('127.0.0.11', `svc${i}`);
    h.lookup('127.0.0.12', `svc${i}`);
    await h.clock.advance(100); // each lookup inside the quiet period of the last
  }
  // 3 s of steady lookups: quiet period never elapsed, max delay (5 s) not reached.
  assert.equal(sink.writes.length, 0);
  await h.clock.advance(1000);
  assert.equal(sink.writes.length, 2, 'productpage and frontend: one write each');
  const hosts = sink.writes.find((w) => w.metadata.name === 'productpage')!.spec.egress[0]!.hosts;
  assert.equal(hosts.length, 31);
  // Repeating the same lookups writes nothing (compare-before-write).
  for (let i = 0; i < 30; i++) h.lookup(PP, `svc${i}`);
  await h.clock.advance(6000);
  assert.equal(sink.writes.length, 2);
  await h.stop();
});

test('max delay: a steady trickle cannot postpone the write forever', async () => {
  const sink = new MemorySidecarSink();
  const h = await harness(sink, { world: meshWorld({ targets: 20 }) });
  for (let i = 0; i < 20; i++) {
    h.lookup(PP, `svc${i}`);
    await h.clock.advance(500);
    if (i === 9) assert.equal(sink.writes.length, 1, 'written at the 5 s max delay');
  }
  await h.stop();
});

test('rate limit: writes beyond maxWritesPerSecond wait for the next second', async () => {
  const sink = new MemorySidecarSink();
  const pods = Array.from({ length: 10 }, (_, i) => ({
    namespace: 'web', name: `w${i}-0`, ips: [`127.0.1.${i + 1}`], labels: { app: `w${i}` }, meshed: true, ready: true,
    workload: { namespace: 'web', kind: 'Deployment', name: `w${i}` },
  }));
  const h = await harness(sink, { world: meshWorld({ pods }), sidecars: { maxWritesPerSecond: 4 } });
  for (let i = 0; i < 10; i++) h.lookup(`127.0.1.${i + 1}`, 'reviews');
  await h.clock.advance(1000);
  assert.equal(sink.writes.length, 4);
  await h.clock.advance(250);
  assert.equal(sink.writes.length, 5);
  await h.clock.advance(2000);
  assert.equal(sink.writes.length, 10);
  await h.stop();
});

test('host cap: hosts over maxHosts are reported, never silently truncated, and stay on HAProxy', async () => {
  const sink = new MemorySidecarSink();
  const h = await harness(sink, { world: meshWorld({ targets: 5 }), sidecars: { maxHosts: 4 } });
  for (let i = 0; i < 5; i++) h.lookup(PP, `svc${i}`);
  await h.clock.advance(5000);
  const hosts = sink.writes.at(-1)!.spec.egress[0]!.hosts;
  assert.equal(hosts.length, 4);
  const problems = h.scoping.status()['problems'] as Array<{ sidecar: string; kind: string; hosts: string[] }>;
  const over = problems.find((p) => p.kind === 'over-cap');
  assert.ok(over);
  assert.deepEqual(over.hosts, ['bookinfo/svc3.bookinfo.svc.cluster.local', 'bookinfo/svc4.bookinfo.svc.cluster.local']);
  assert.equal(h.lookup(PP, 'svc4').decision.reason, 'sidecar-pending');
  assert.equal(h.lookup(PP, 'svc0').decision.route, 'mesh');
  const metrics = await h.core.registry.getSingleMetricAsString('discovery_sidecar_over_cap');
  assert.match(metrics, /discovery_sidecar_over_cap 1/);
  await h.stop();
});

for (const mode of ['consul-only', 'shadow'] as const) {
  test(`${mode}: dry run writes nothing, counts the would-be writes, and switching back writes what was observed`, async () => {
    const sink = new MemorySidecarSink();
    const h = await harness(sink);
    await h.core.control.setMode(mode, { actor: 'test', reason: 'drill' });
    h.lookup(PP, 'reviews');
    h.lookup(PP, 'ratings');
    await h.clock.advance(6000);
    assert.equal(sink.writes.length, 0);
    assert.equal((h.scoping.status()['writes'] as { dryRun: number }).dryRun, 1);
    assert.match(await h.core.registry.getSingleMetricAsString('discovery_sidecar_writes_total'), /mode="dry-run"} 1/);
    await h.core.control.setMode('hybrid', { actor: 'test', reason: 'back' });
    await h.clock.advance(1000);
    assert.equal(sink.writes.length, 1);
    assert.deepEqual(sink.writes[0]!.spec.egress[0]!.hosts, [RATINGS, REVIEWS, 'istio-system/*'].sort());
    await h.stop();
  });
}

test('user-owned Sidecar selecting the workload: nothing written, gate uses its hosts, conflict reported', async () => {
  const sink = new MemorySidecarSink();
  const user = sidecar('web', 'legacy-ui-scope', [REVIEWS], { selector: { app: 'legacy-ui' } });
  const h = await harness(sink, { world: meshWorld({ sidecars: [user] }) });
  assert.equal(h.lookup('127.0.0.13', 'reviews').decision.route, 'mesh', 'the user Sidecar lists reviews');
  assert.equal(h.lookup('127.0.0.13', 'ratings').decision.reason, 'sidecar-pending', 'it does not list ratings');
  await h.clock.advance(6000);
  assert.equal(sink.writes.length, 0);
  const explain = h.scoping.explainPair(h.lookups.caller('127.0.0.13')!, 'ratings');
  assert.deepEqual(explain['conflict'], ['web/legacy-ui-scope']);
  assert.match(await h.core.registry.getSingleMetricAsString('discovery_sidecar_conflicts'), /discovery_sidecar_conflicts 1/);
  // A namespace-wide user Sidecar also wins for every workload in its namespace.
  h.core.setWorld({ kube: { ...h.core.world.current.kube, sidecars: [user, sidecar('web', 'default', ['./*'], { selector: null })] } });
  h.lookup('127.0.0.12', 'reviews');
  await h.clock.advance(6000);
  assert.equal(sink.writes.length, 0);
  await h.stop();
});

test('a conflict that appears later freezes our Sidecar (never deleted) and the pair needs both Sidecars', async () => {
  const sink = new MemorySidecarSink();
  const h = await harness(sink);
  h.lookup('127.0.0.12', 'reviews');
  await h.clock.advance(4000);
  assert.equal(h.lookup('127.0.0.12', 'reviews').decision.route, 'mesh');
  const user = sidecar('web', 'frontend-by-hand', [RATINGS], { selector: { app: 'frontend' } });
  h.core.setWorld({ kube: { ...h.core.world.current.kube, sidecars: [user] } });
  assert.equal(h.lookup('127.0.0.12', 'reviews').decision.reason, 'sidecar-pending', 'the user Sidecar does not list reviews');
  assert.equal(h.lookup('127.0.0.12', 'ratings').decision.reason, 'sidecar-pending', 'ours does not list ratings');
  await h.clock.advance(6000);
  assert.equal(sink.writes.length, 1);
  assert.equal(sink.deletes.length, 0);
  assert.equal(h.scoping.managedSidecars().length, 1);
  await h.stop();
});

test('a failed read-back pauses writes (nothing shrinks), retries, then merges', async () => {
  const sink = new MemorySidecarSink();
  const first = await harness(sink);
  first.lookup(PP, 'reviews');
  await first.clock.advance(4000);
  await first.stop();
  assert.equal(sink.objects.size, 1);

  sink.faults.failReads = 1;
  const h = await harness(sink, { clock: first.clock });
  assert.equal(h.scoping.status()['readBack'], 'failed');
  h.lookup(PP, 'ratings');
  await h.clock.advance(1000);
  assert.equal(sink.writes.length, 1, 'no write while the sink content is unknown');
  assert.equal(h.lookup(PP, 'reviews').decision.reason, 'sidecar-pending', 'nothing is ready while unknown');
  await h.clock.advance(5000); // retry read, then write the union
  assert.equal(h.scoping.status()['readBack'], 'ok');
  await h.clock.advance(1000);
  assert.deepEqual([...sink.objects.values()][0]!.spec.egress[0]!.hosts, [RATINGS, REVIEWS, 'istio-system/*'].sort());
  assert.equal(h.lookup(PP, 'reviews').decision.route, 'mesh');
  await h.stop();
});

test('failed writes are retried and nothing becomes ready before the write lands', async () => {
  const sink = new MemorySidecarSink();
  const h = await harness(sink);
  sink.faults.failWrites = 1;
  h.lookup(PP, 'reviews');
  await h.clock.advance(1000);
  assert.equal(sink.objects.size, 0);
  await h.clock.advance(4000);
  assert.equal(h.lookup(PP, 'reviews').decision.reason, 'sidecar-pending');
  await h.clock.advance(1000); // retry after maxDelay
  assert.equal(sink.objects.size, 1);
  await h.clock.advance(3000);
  assert.equal(h.lookup(PP, 'reviews').decision.route, 'mesh');
  assert.match(await h.core.registry.getSingleMetricAsString('discovery_sidecar_write_errors_total'), /total 1/);
  await h.stop();
});

test('a new Pod the selector does not match stays on HAProxy until the widened selector propagates', async () => {
  const sink = new MemorySidecarSink();
  const h = await harness(sink);
  h.lookup(PP, 'reviews');
  await h.clock.advance(4000);
  const selector = sink.writes[0]!.spec.workloadSelector!.labels;
  assert.deepEqual(selector, { app: 'productpage', version: 'v1' }, 'pod-template-hash and Istio labels left out');
  const v2 = { namespace: 'bookinfo', name: 'productpage-v2-c', ips: ['127.0.0.14'], labels: { app: 'productpage', version: 'v2', 'pod-template-hash': '99' }, meshed: true, ready: true, workload: { namespace: 'bookinfo', kind: 'Deployment', name: 'productpage' } };
  h.core.setWorld({ kube: { ...h.core.world.current.kube, pods: [...h.core.world.current.kube.pods, v2] } });
  assert.equal(h.lookup('127.0.0.14', 'reviews').decision.reason, 'sidecar-pending');
  assert.equal(h.lookup(PP, 'reviews').decision.route, 'mesh', 'old Pods keep their answer');
  await h.clock.advance(1000);
  assert.deepEqual(sink.writes.at(-1)!.spec.workloadSelector!.labels, { app: 'productpage' });
  assert.equal(h.lookup(PP, 'reviews').decision.route, 'mesh', 'still served while the wider selector propagates');
  await h.clock.advance(3000);
  assert.equal(h.lookup('127.0.0.14', 'reviews').decision.route, 'mesh');
  await h.stop();
});

test('namespace defaults (opt-in): one selector-less Sidecar per namespace without one, never in the root namespace', async () => {
  const sink = new MemorySidecarSink();
  const h = await harness(sink, { sidecars: { namespaceDefaults: true } });
  await h.clock.advance(1000);
  const names = [...sink.objects.keys()].sort();
  assert.deepEqual(names, ['bookinfo/discovery-default', 'web/discovery-default']);
  assert.deepEqual(sink.objects.get('web/discovery-default')!.spec, { egress: [{ hosts: ['./*', 'istio-system/*'] }] });
  // A user namespace-wide Sidecar appears: ours yields.
  h.core.setWorld({ kube: { ...h.core.world.current.kube, sidecars: [sidecar('web', 'mine', ['./*'], { selector: null })] } });
  await h.clock.advance(1000);
  assert.deepEqual([...sink.objects.keys()], ['bookinfo/discovery-default']);
  await h.stop();
});
