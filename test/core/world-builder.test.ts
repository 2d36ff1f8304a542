// WorldBuilder reuses the parts whose input is the same object as in the previous build
// (src/world/world.ts): whatever sequence of inputs it is given, each World must be the one a
// fresh build gives, and the store must stamp exactly what changed (invariant 6,
// docs/invariants.md).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildWorld, WorldBuilder } from '../../src/world/world.ts';
import { ChangeBus, IndexClock, type ChangeSet } from '../../src/world/changes.ts';
import { WorldStore } from '../../src/world/store.ts';
import type { ConsulCatalog } from '../../src/world/consul-types.ts';
import type { KubeSnapshot } from '../../src/world/kube-types.ts';
import { catalog, kubeService, pod, sidecar, slice, standardWorld } from '../support/world-fixtures.ts';

const OPTS = { meshRule: 'any' as const, clusterDomain: 'cluster.local', rootNamespace: 'istio-system' };

/** Two versions of every input, made once, so choosing the same version again hands over the same object. */
function variants(): { consul: ConsulCatalog[]; kube: { [K in keyof KubeSnapshot]: KubeSnapshot[K][] } } {
  const { consul, kube } = standardWorld();
  const consulB = catalog([
    { service: 'reviews', node: 'haproxy-reviews-1', address: '10.1.0.1', port: 9090, tags: ['v1', 'primary'] },
    { service: 'ratings', node: 'haproxy-ratings-1', address: '10.1.1.9', port: 9080 },
    { service: 'details', node: 'haproxy-details-1', address: '10.1.2.1', port: 9080 },
    { service: 'payments', node: 'haproxy-payments-1', address: '10.1.3.1', port: 8080 },
  ]);
  // As the live source builds them: a new catalog that keeps the objects of the services that did not change.
  const services = new Map(consul.services);
  services.set('reviews', consulB.services.get('reviews')!);
  services.set('payments', consulB.services.get('payments')!);
  const consulC: ConsulCatalog = { ...consul, services };
  return {
    consul: [consul, consulB, consulC],
    kube: {
      namespaces: [kube.namespaces, [...kube.namespaces, 'payments']],
      services: [
        kube.services,
        [
          kubeService('bookinfo', 'reviews', '10.96.0.10', [{ name: 'http', port: 9080 }, { name: 'grpc', port: 9090 }]),
          ...kube.services.filter((k) => k.name !== 'reviews'),
          kubeService('bookinfo', 'ratings', '10.96.0.12', [{ name: 'http', port: 9080 }]),
        ],
      ],
      endpointSlices: [
        kube.endpointSlices,
        [slice('bookinfo', 'reviews', [{ pod: 'reviews-v1-abc', ip: '10.244.0.5', ready: false }]), slice('bookinfo', 'ratings', [{ pod: 'ratings-v1-abc', ip: '10.244.0.7' }])],
      ],
      pods: [
        kube.pods,
        [
          ...kube.pods.filter((p) => p.name !== 'billing-5c4b-qrs'),
          pod('bookinfo', 'ratings-v1-abc', '10.244.0.7', { meshed: true, workload: 'ratings-v1' }),
          pod('legacy', 'billing-5c4b-tuv', '127.0.0.10', { meshed: false, workload: 'billing' }),
        ],
      ],
      sidecars: [kube.sidecars, [sidecar('bookinfo', 'productpage', ['./reviews.bookinfo.svc.cluster.local'], { selector: { app: 'productpage' }, managed: true })]],
    },
  };
}

const choice = fc.record({ consul: fc.nat(2), namespaces: fc.nat(1), services: fc.nat(1), endpointSlices: fc.nat(1), pods: fc.nat(1), sidecars: fc.nat(1) });

test('world builder: every build equals a fresh build, whichever inputs stayed the same object', () => {
  const v = variants();
  fc.assert(
    fc.property(fc.array(choice, { minLength: 1, maxLength: 12 }), (steps) => {
      const builder = new WorldBuilder(OPTS);
      for (const s of steps) {
        const consul = v.consul[s.consul]!;
        const kube: KubeSnapshot = {
          namespaces: v.kube.namespaces[s.namespaces]!,
          services: v.kube.services[s.services]!,
          endpointSlices: v.kube.endpointSlices[s.endpointSlices]!,
          pods: v.kube.pods[s.pods]!,
          sidecars: v.kube.sidecars[s.sidecars]!,
        };
        assert.deepStrictEqual(builder.build(consul, kube), buildWorld(consul, kube, OPTS));
      }
    }),
    { numRuns: 200 },
  );
});

test('world builder: a Consul-only change reuses the callers and the Pod lookups; a Sidecar change rebuilds the callers', () => {
  const v = variants();
  const builder = new WorldBuilder(OPTS);
  const kube: KubeSnapshot = { namespaces: v.kube.namespaces[0]!, services: v.kube.services[0]!, endpointSlices: v.kube.endpointSlices[0]!, pods: v.kube.pods[0]!, sidecars: v.kube.sidecars[0]! };
  const a = builder.build(v.consul[0]!, kube);
  const b = builder.build(v.consul[1]!, kube);
  assert.equal(b.callers, a.callers, 'the same Pods and Sidecars give the same callers map');
  assert.equal(b.podsByWorkload, a.podsByWorkload);
  assert.notDeepEqual(b.targets, a.targets, 'the targets follow the catalog');
  const c = builder.build(v.consul[1]!, { ...kube, sidecars: v.kube.sidecars[1]! });
  assert.notEqual(c.callers, b.callers, 'new Sidecars: callers rebuilt');
  assert.equal(c.callers.get('127.0.0.10')!.sidecar.kind, 'managed');
});

test('world store: a Consul-only update stamps the services that changed and no caller', () => {
  const v = variants();
  const changes: ChangeSet[] = [];
  const bus = new ChangeBus();
  bus.subscribe((c) => changes.push(c));
  const store = new WorldStore(OPTS, new IndexClock(), bus);
  const kube: KubeSnapshot = { namespaces: v.kube.namespaces[0]!, services: v.kube.services[0]!, endpointSlices: v.kube.endpointSlices[0]!, pods: v.kube.pods[0]!, sidecars: v.kube.sidecars[0]! };
  store.update({ consul: v.consul[0]!, kube });
  const callerIndex = store.caller('127.0.0.10');
  const detailsIndex = store.consul('details');
  const change = store.update({ consul: v.consul[1]! });
  assert.deepEqual([...change.services].sort(), ['payments', 'ratings', 'reviews'], 'reviews lost an instance, ratings moved, payments is new');
  assert.equal(change.callers.size, 0, 'no caller changed');
  assert.equal(store.caller('127.0.0.10'), callerIndex);
  assert.equal(store.consul('details'), detailsIndex, 'an unchanged service keeps its index');
  assert.ok(store.consul('reviews') > detailsIndex, 'a changed service gets a newer index');
  const again = store.update({ consul: { ...v.consul[1]! } });
  assert.equal(again.services.size + again.callers.size, 0, 'the same instance lists in a new catalog object: nothing changed');
  assert.equal(changes.length, 2, 'an empty change is not published');
});
