// The demo world loaded the way the app loads it: through the snapshot parsers, then buildWorld.
// Guards the demo's promises (README.md) against edits to the demo files or the parsers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildCatalog } from '../../src/sources/consul/catalog-build.ts';
import { parseRegistrations } from '../../src/sources/consul/registration-body.ts';
import { parseKubeSnapshot } from '../../src/sources/kubernetes/snapshot-document.ts';
import { buildWorld } from '../../src/world/world.ts';
import { aggregateStatus } from '../../src/world/consul-types.ts';

const demo = (name: string) => fileURLToPath(new URL(`../../examples/demo/${name}`, import.meta.url));

function loadDemo() {
  const consul = buildCatalog(parseRegistrations(readFileSync(demo('consul.json'), 'utf8'), 'consul.json'), 'dc1', 'consul.json');
  const kube = parseKubeSnapshot(readFileSync(demo('kube.yaml'), 'utf8'), 'kube.yaml');
  const world = buildWorld(consul, kube.snapshot, { meshRule: 'any', clusterDomain: 'cluster.local', rootNamespace: 'istio-system' });
  return { consul, kube, world };
}

test('demo Consul catalog: ten HAProxy-fronted services, warning and critical instances, a shared node', () => {
  const { consul } = loadDemo();
  assert.deepEqual([...consul.services.keys()], ['billing', 'details', 'inventory', 'legacy-auth', 'notifications', 'payments', 'productpage', 'ratings', 'reviews', 'search']);
  for (const svc of consul.services.values()) for (const i of svc.instances) assert.match(i.node.Address, /^10\.20\.\d+\.\d+$/);
  assert.deepEqual(consul.services.get('reviews')!.instances.map((i) => aggregateStatus(i.checks)), ['passing', 'warning']);
  assert.deepEqual(consul.services.get('notifications')!.instances.map((i) => aggregateStatus(i.checks)), ['passing', 'critical']);
  // haproxy-legacy-1 carries legacy-auth and billing, and a node-level serfHealth check for both.
  const shared = consul.services.get('billing')!.instances.find((i) => i.node.Node === 'haproxy-legacy-1')!;
  assert.deepEqual(shared.checks.map((c) => c.CheckID), ['serfHealth', 'service:billing-2']);
  assert.equal(consul.services.get('legacy-auth')!.instances[0]!.service.Address, '10.20.10.100');
});

test('demo callers: meshed productpage 127.0.0.10, meshed frontend 127.0.0.11, unmeshed billing 127.0.0.20', () => {
  const { world } = loadDemo();
  const productpage = world.callers.get('127.0.0.10');
  assert.ok(productpage);
  assert.equal(productpage.pod.meshed, true);
  assert.equal(productpage.workload, 'bookinfo/productpage');
  assert.equal(productpage.pod.workload.kind, 'Deployment');
  assert.equal(productpage.sidecar.kind, 'managed');

  const frontend = world.callers.get('127.0.0.11');
  assert.ok(frontend);
  assert.equal(frontend.pod.meshed, true, 'native sidecar (init container with restartPolicy Always)');
  assert.equal(frontend.workload, 'shop/frontend');

  const billing = world.callers.get('127.0.0.20');
  assert.ok(billing);
  assert.equal(billing.pod.meshed, false);
  assert.equal(billing.workload, 'legacy/billing');
});

test('demo targets: meshed reviews, ambiguous payments, ratings without ready endpoints, port matching by number and by name', () => {
  const { world } = loadDemo();
  const status = Object.fromEntries([...world.targets].map(([k, t]) => [k, t.status]));
  assert.deepEqual(status, {
    billing: 'not-in-kubernetes',
    details: 'meshed',
    inventory: 'endpoints-not-meshed',
    'legacy-auth': 'not-in-kubernetes',
    notifications: 'not-in-kubernetes',
    payments: 'mapping-ambiguous',
    productpage: 'meshed',
    ratings: 'no-ready-endpoints',
    reviews: 'meshed',
    search: 'meshed',
  });
  const reviews = world.targets.get('reviews')!;
  assert.equal(reviews.clusterIP, '10.96.10.21');
  assert.equal(reviews.port, 9080);
  assert.equal(reviews.meshedReadyEndpoints, 2);
  assert.deepEqual(world.targets.get('payments')!.kubeServices, ['payments/payments', 'payments/payments-v2']);
  // details: Consul port 9080 is one of three Service ports; search: no port 80, the port named "search" wins.
  assert.deepEqual([world.targets.get('details')!.port, world.targets.get('details')!.portName], [9080, 'http']);
  assert.deepEqual([world.targets.get('search')!.port, world.targets.get('search')!.portName], [9200, 'search']);
});

test('demo Kubernetes dump: the finished CronJob Pod and the Deployment are skipped, not errors', () => {
  const { kube } = loadDemo();
  assert.deepEqual(Object.fromEntries(kube.ignored), { 'apps/v1 Deployment': 1, 'v1 Pod (finished: Succeeded/Failed)': 1 });
  assert.ok(!kube.snapshot.pods.some((p) => p.name.startsWith('nightly-report')));
  assert.deepEqual(kube.snapshot.sidecars.map((s) => [`${s.namespace}/${s.name}`, s.managed]), [['bookinfo/productpage', true], ['payments/payments-egress', false]]);
});
