// The world feed: bursts of deliveries become one world rebuild, agent registrations are merged
// into the Consul catalog at once, a source that has not synced yet leaves its part empty without
// failing the start, and a failing source is counted and logged while the last good world stays.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createLogger } from '../../src/platform/log.ts';
import { WorldFeed, type AgentInstances } from '../../src/sources/feed.ts';
import { ChangeBus, IndexClock } from '../../src/world/changes.ts';
import type { ConsulCatalog, ConsulInstance } from '../../src/world/consul-types.ts';
import type { KubeSnapshot } from '../../src/world/kube-types.ts';
import { WorldStore } from '../../src/world/store.ts';
import { TestSource } from '../support/app.ts';
import { ManualClock } from '../support/manual-clock.ts';
import { catalog, standardWorld } from '../support/world-fixtures.ts';

function setup(opts: { consul?: ConsulCatalog; kube?: KubeSnapshot; agent?: AgentInstances; defaultWindows?: boolean } = {}) {
  const clock = new ManualClock();
  const bus = new ChangeBus();
  const world = new WorldStore({ meshRule: 'any', clusterDomain: 'cluster.local', rootNamespace: 'istio-system' }, new IndexClock(() => clock.now()), bus);
  const builds: number[] = [];
  bus.subscribe(() => builds.push(clock.now()));
  const consul = new TestSource<ConsulCatalog>('consul', opts.consul);
  const kube = new TestSource<KubeSnapshot>('kube', opts.kube);
  const registry = new Registry();
  const feed = new WorldFeed({
    world,
    sources: [
      { part: 'consul', source: consul },
      { part: 'kube', source: kube },
    ],
    agent: opts.agent ?? null,
    clock,
    log: createLogger('silent'),
    registry,
    ...(opts.defaultWindows ? {} : { window: { quietMs: 100, maxMs: 1000 } }),
  });
  return { clock, world, feed, consul, kube, builds, registry };
}

const web = (port: number) => catalog([{ service: 'web', node: 'n1', address: '10.0.0.1', port }]);

test('feed: the first world is built once, from what every source delivered while starting', async () => {
  const std = standardWorld();
  const t = setup({ consul: std.consul, kube: std.kube });
  await t.feed.start();
  assert.equal(t.builds.length, 1);
  assert.ok(t.world.current.consul.services.has('reviews'));
  assert.ok(t.world.current.callers.size > 0);
  assert.equal(t.feed.synced, true);
  t.feed.stop();
});

test('feed: a burst of deliveries rebuilds the world once, after the quiet period', async () => {
  const t = setup({ consul: web(1) });
  await t.feed.start();
  const before = t.builds.length;
  for (let port = 2; port <= 50; port++) {
    t.consul.push(web(port));
    await t.clock.advance(10);
  }
  assert.equal(t.builds.length, before, 'nothing rebuilt while deliveries keep coming');
  await t.clock.advance(100);
  assert.equal(t.builds.length, before + 1, 'one rebuild for the burst');
  assert.equal(t.world.current.consul.services.get('web')!.instances[0]!.service.Port, 50);
  t.feed.stop();
});

test('feed: by default a Consul change reaches the world within 250 ms even while Kubernetes events keep a burst open', async () => {
  const std = standardWorld();
  const t = setup({ consul: web(1), kube: std.kube, defaultWindows: true });
  await t.feed.start();
  const before = t.builds.length;
  // Kubernetes events every 50 ms: on its own window (100 ms quiet, 1 s at most) no rebuild before 1 s.
  for (let i = 0; i < 4; i++) {
    t.kube.push({ ...std.kube, pods: [...std.kube.pods] });
    await t.clock.advance(50);
  }
  assert.equal(t.builds.length, before, 'Kubernetes events alone: still gathering');
  t.consul.push(web(2));
  await t.clock.advance(19);
  assert.equal(t.builds.length, before, 'the Consul window waits 20 ms of quiet');
  t.kube.push({ ...std.kube, pods: [...std.kube.pods] });
  await t.clock.advance(30);
  assert.equal(t.builds.length, before, 'a Kubernetes event restarted the quiet period (at 249 ms)');
  await t.clock.advance(1);
  assert.equal(t.builds.length, before + 1, 'but the burst ends 250 ms after it began, the Consul maximum');
  assert.equal(t.world.current.consul.services.get('web')!.instances[0]!.service.Port, 2);

  const quiet = t.builds.length;
  t.consul.push(web(3));
  await t.clock.advance(20);
  assert.equal(t.builds.length, quiet + 1, 'a lone Consul delivery is in the world 20 ms later');
  t.kube.push({ ...std.kube, pods: std.kube.pods.slice(0, -1) });
  await t.clock.advance(99);
  assert.equal(t.builds.length, quiet + 1, 'a lone Kubernetes delivery waits its 100 ms of quiet');
  await t.clock.advance(1);
  assert.equal(t.builds.length, quiet + 2);
  t.feed.stop();
});

test('feed: a steady trickle cannot postpone the rebuild past the maximum delay', async () => {
  const t = setup({ consul: web(1) });
  await t.feed.start();
  const before = t.builds.length;
  for (let port = 2; port <= 30; port++) {
    t.consul.push(web(port));
    await t.clock.advance(50);
  }
  // 29 deliveries 50 ms apart span 1.45 s: the 1 s maximum forced one rebuild in between.
  assert.ok(t.builds.length >= before + 1);
  await t.clock.advance(200);
  assert.equal(t.world.current.consul.services.get('web')!.instances[0]!.service.Port, 30);
  t.feed.stop();
});

test('feed: a source that has not synced leaves its part empty, the start does not fail, synced says so', async () => {
  const std = standardWorld();
  const t = setup({ consul: std.consul });
  await t.feed.start();
  assert.equal(t.feed.synced, false);
  assert.deepEqual(t.feed.status().map((s) => [s.name, s.synced]), [
    ['consul', true],
    ['kube', false],
  ]);
  assert.equal(t.world.current.callers.size, 0, 'no Kubernetes data yet: nobody is meshed');
  t.kube.push(std.kube);
  // Delivered but still waiting for the coalesced rebuild: the world does not hold it yet, so
  // neither readiness nor the Kubernetes part may count as synced (answers would come from nothing).
  assert.equal(t.kube.status().synced, true);
  assert.equal(t.feed.partSynced('kube'), false, 'not in the world before the rebuild');
  assert.equal(t.feed.partSynced('consul'), true);
  assert.equal(t.feed.synced, false, 'not ready before the rebuild');
  await t.clock.advance(100);
  assert.equal(t.feed.synced, true);
  assert.equal(t.feed.partSynced('kube'), true);
  assert.ok(t.world.current.callers.size > 0, 'the Kubernetes part is in the world');
  t.feed.stop();
});

test('feed: agent registrations are merged into the catalog and rebuild the world at once', async () => {
  const listeners = new Set<() => void>();
  let instances: ConsulInstance[] = [];
  const agent: AgentInstances = { instances: () => instances, onChange: (l) => (listeners.add(l), () => listeners.delete(l)) };
  const t = setup({ consul: web(80), agent });
  await t.feed.start();
  instances = [...catalog([{ service: 'orders', node: 'agent-node', address: '10.9.0.1', port: 8080 }]).services.get('orders')!.instances];
  for (const l of listeners) l();
  assert.ok(t.world.current.consul.services.has('orders'), 'visible without waiting for a quiet period');
  assert.ok(t.world.current.consul.services.has('web'));
  t.feed.stop();
});

test('feed: a rejected version is counted and the last good world stays; after stop nothing is delivered', async () => {
  const t = setup({ consul: web(1) });
  await t.feed.start();
  t.consul.fail(new Error('bad version'));
  assert.match(await t.registry.metrics(), /discovery_source_reloads_total\{source="consul",result="error"\} 1/);
  assert.equal(t.world.current.consul.services.get('web')!.instances[0]!.service.Port, 1);
  t.feed.stop();
  const before = t.builds.length;
  t.consul.push(web(2));
  await t.clock.advance(2000);
  assert.equal(t.builds.length, before);
});

test('feed: at most one source per part', () => {
  const clock = new ManualClock();
  const bus = new ChangeBus();
  const world = new WorldStore({ meshRule: 'any', clusterDomain: 'cluster.local', rootNamespace: 'istio-system' }, new IndexClock(), bus);
  const a = new TestSource<ConsulCatalog>('a');
  const b = new TestSource<ConsulCatalog>('b');
  assert.throws(
    () => new WorldFeed({ world, sources: [{ part: 'consul', source: a }, { part: 'consul', source: b }], agent: null, clock, log: createLogger('silent'), registry: new Registry() }),
    /at most one consul source, got 2/,
  );
});
