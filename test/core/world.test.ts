// The world model's mapping rules (docs/architecture.md, src/world/world.ts) and the store's index stamping (invariant 6, docs/invariants.md).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildWorld, selectSidecar } from '../../src/world/world.ts';
import { ChangeBus, IndexClock, type ChangeSet } from '../../src/world/changes.ts';
import { WorldStore } from '../../src/world/store.ts';
import { catalog, kube, kubeService, pod, sidecar, slice, standardWorld } from '../support/world-fixtures.ts';

const OPTS = { meshRule: 'any' as const, clusterDomain: 'cluster.local', rootNamespace: 'istio-system' };

test('world: migrated service with meshed ready endpoints is meshed, with the matching port', () => {
  const { consul, kube: k } = standardWorld();
  const w = buildWorld(consul, k, OPTS);
  const t = w.targets.get('reviews')!;
  assert.equal(t.status, 'meshed');
  assert.equal(t.clusterIP, '10.96.0.10');
  assert.equal(t.port, 9080);
  assert.equal(t.fqdn, 'reviews.bookinfo.svc.cluster.local');
  assert.equal(w.targets.get('ratings')!.status, 'not-in-kubernetes');
  assert.equal(w.targets.get('details')!.status, 'no-ready-endpoints');
});

test('world: callers by Pod IP, meshed or not; workload from the owner', () => {
  const { consul, kube: k } = standardWorld();
  const w = buildWorld(consul, k, OPTS);
  assert.equal(w.callers.get('127.0.0.10')!.pod.meshed, true);
  assert.equal(w.callers.get('127.0.0.10')!.workload, 'bookinfo/productpage');
  assert.equal(w.callers.get('127.0.0.20')!.pod.meshed, false);
  assert.equal(w.callers.get('127.0.0.99'), undefined);
});

test('world: two Services claiming one Consul name -> mapping-ambiguous, reported', () => {
  const consul = catalog([{ service: 'pay', node: 'h1', address: '10.0.0.1', port: 80 }]);
  const k = kube({
    services: [kubeService('a', 'pay', '10.96.0.1', [{ port: 80 }]), kubeService('b', 'payments', '10.96.0.2', [{ port: 80 }], 'pay')],
    endpointSlices: [slice('a', 'pay', [{ pod: 'p1', ip: '10.244.0.1' }]), slice('b', 'payments', [{ pod: 'p2', ip: '10.244.0.2' }])],
    pods: [pod('a', 'p1', '10.244.0.1', { meshed: true }), pod('b', 'p2', '10.244.0.2', { meshed: true })],
  });
  const w = buildWorld(consul, k, OPTS);
  assert.equal(w.targets.get('pay')!.status, 'mapping-ambiguous');
  assert.ok(w.problems.some((p) => p.kind === 'mapping-ambiguous' && p.subject === 'pay'));
});

test('world: port chosen by number, then by name; several ports and no match -> port-ambiguous', () => {
  const consul = catalog([
    { service: 'multi', node: 'h1', address: '10.0.0.1', port: 8443 },
    { service: 'named', node: 'h2', address: '10.0.0.2', port: 7000 },
    { service: 'nomatch', node: 'h3', address: '10.0.0.3', port: 7000 },
  ]);
  const svc = (name: string, ports: Array<{ name: string; port: number }>) => kubeService('ns', name, `10.96.1.${ports.length}${name.length}`, ports);
  const k = kube({
    services: [svc('multi', [{ name: 'http', port: 80 }, { name: 'https', port: 8443 }]), svc('named', [{ name: 'admin', port: 9000 }, { name: 'named', port: 80 }]), svc('nomatch', [{ name: 'a', port: 1 }, { name: 'b', port: 2 }])],
    endpointSlices: ['multi', 'named', 'nomatch'].map((n) => slice('ns', n, [{ pod: `${n}-p`, ip: `10.244.9.${n.length}` }])),
    pods: ['multi', 'named', 'nomatch'].map((n) => pod('ns', `${n}-p`, `10.244.9.${n.length}`, { meshed: true })),
  });
  const w = buildWorld(consul, k, OPTS);
  assert.equal(w.targets.get('multi')!.port, 8443);
  assert.equal(w.targets.get('named')!.port, 80);
  assert.equal(w.targets.get('nomatch')!.status, 'port-ambiguous');
});

test('world: mesh rule "all" needs every ready endpoint meshed', () => {
  const consul = catalog([{ service: 'half', node: 'h1', address: '10.0.0.1', port: 80 }]);
  const k = kube({
    services: [kubeService('ns', 'half', '10.96.0.5', [{ port: 80 }])],
    endpointSlices: [slice('ns', 'half', [{ pod: 'a', ip: '10.244.0.1' }, { pod: 'b', ip: '10.244.0.2' }])],
    pods: [pod('ns', 'a', '10.244.0.1', { meshed: true }), pod('ns', 'b', '10.244.0.2', { meshed: false })],
  });
  assert.equal(buildWorld(consul, k, OPTS).targets.get('half')!.status, 'meshed');
  assert.equal(buildWorld(consul, k, { ...OPTS, meshRule: 'all' }).targets.get('half')!.status, 'endpoints-not-meshed');
});

test('world: Pods sharing an IP (hostNetwork) are unknown callers, reported', () => {
  const k = kube({ pods: [pod('a', 'x', '10.0.0.9'), pod('b', 'y', '10.0.0.9')] });
  const w = buildWorld(catalog([]), k, OPTS);
  assert.equal(w.callers.get('10.0.0.9'), undefined);
  assert.ok(w.problems.some((p) => p.kind === 'caller-ip-shared'));
});

test('world: Istio Sidecar selection: selecting (oldest) > namespace-wide > root namespace default', () => {
  const p = pod('ns', 'web-1', '10.0.0.1', { labels: { app: 'web' } });
  const root = sidecar('istio-system', 'default', ['*/*'], { selector: null });
  const nsWide = sidecar('ns', 'default', ['./*'], { selector: null });
  const older = sidecar('ns', 'old', ['a/*'], { selector: { app: 'web' }, created: '2020-01-01T00:00:00Z' });
  const newer = sidecar('ns', 'new', ['b/*'], { selector: { app: 'web' }, created: '2024-01-01T00:00:00Z' });
  assert.equal(selectSidecar(p, [root], 'istio-system').kind, 'user');
  const pick = (s: ReturnType<typeof selectSidecar>) => (s.kind === 'none' ? null : s.info.name);
  assert.equal(pick(selectSidecar(p, [root, nsWide], 'istio-system')), 'default');
  assert.equal(pick(selectSidecar(p, [root, nsWide, newer, older], 'istio-system')), 'old');
  assert.equal(selectSidecar(p, [], 'istio-system').kind, 'none');
});

test('store: only what changed is stamped; indexes never go backwards; change sets name what changed', () => {
  const bus = new ChangeBus();
  const changes: ChangeSet[] = [];
  bus.subscribe((c) => changes.push(c));
  const store = new WorldStore(OPTS, new IndexClock(), bus);
  const { consul, kube: k } = standardWorld();
  store.update({ consul, kube: k });
  const r0 = store.consul('reviews');
  const ra0 = store.consul('ratings');
  assert.ok(r0 > 0);
  changes.length = 0;
  store.update({ consul, kube: k }); // identical data: nothing stamped, nothing published
  assert.equal(store.consul('reviews'), r0);
  assert.equal(changes.length, 0);

  const moved = catalog([
    { service: 'reviews', node: 'haproxy-reviews-1', address: '10.1.0.1', port: 9080, tags: ['v1', 'primary'] },
    { service: 'reviews', node: 'haproxy-reviews-2', address: '10.1.0.2', port: 9080, tags: ['v1'], status: 'critical' },
    { service: 'ratings', node: 'haproxy-ratings-1', address: '10.1.1.1', port: 9080 },
    { service: 'details', node: 'haproxy-details-1', address: '10.1.2.1', port: 9080 },
  ]);
  store.update({ consul: moved });
  assert.ok(store.consul('reviews') > r0);
  assert.equal(store.consul('ratings'), ra0);
  assert.deepEqual([...changes[0]!.services], ['reviews']);
  assert.ok(store.consul('never-registered') >= store.consul('reviews'), 'unknown names follow the catalog index');
});

test('store: a caller becoming meshed stamps that caller', () => {
  const store = new WorldStore(OPTS, new IndexClock(), new ChangeBus());
  const { consul, kube: k } = standardWorld();
  store.update({ consul, kube: k });
  const before = store.caller('127.0.0.20');
  const pods = k.pods.map((p) => (p.ips[0] === '127.0.0.20' ? { ...p, meshed: true } : p));
  store.update({ kube: { ...k, pods } });
  assert.ok(store.caller('127.0.0.20') > before);
  assert.equal(store.current.callers.get('127.0.0.20')!.pod.meshed, true);
});

test('index clock: strictly increasing even if the wall clock stalls or steps back', () => {
  let now = 1_000;
  const clock = new IndexClock(() => now);
  const a = clock.next();
  now = 500;
  const b = clock.next();
  const c = clock.next();
  assert.ok(a < b && b < c);
  assert.ok(a >= 1);
});
