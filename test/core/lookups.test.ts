// Lookups: the per-caller answer, observations, pins and the kill-switch through the core, and the
// index property of invariant 6: for a given caller and service, X-Consul-Index never goes
// backwards, is never 0, and rises whenever the answer changes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { testCore } from '../support/core.ts';
import { catalog, kube, kubeService, pod, sidecar, slice, standardWorld } from '../support/world-fixtures.ts';

const who = { actor: 'test', reason: 'test' };

test('lookups: meshed caller gets one synthetic instance at the ClusterIP; unmeshed and unknown get HAProxy', async () => {
  const core = await testCore();
  const mesh = core.lookups.lookup('127.0.0.10', 'reviews', 'http');
  assert.equal(mesh.decision.reason, 'mesh');
  assert.equal(mesh.instances.length, 1);
  assert.equal(mesh.instances[0]!.service.Address, '10.96.0.10');
  assert.equal(mesh.instances[0]!.node.Address, '10.96.0.10');
  assert.equal(mesh.instances[0]!.service.Port, 9080);
  assert.equal(mesh.instances[0]!.checks[0]!.Status, 'passing');

  const legacy = core.lookups.lookup('::ffff:127.0.0.20', 'REVIEWS', 'http');
  assert.equal(legacy.decision.reason, 'caller-not-meshed');
  assert.deepEqual(legacy.instances.map((i) => i.node.Address), ['10.1.0.1', '10.1.0.2']);
  assert.equal(core.lookups.lookup('127.0.0.99', 'reviews', 'dns').decision.reason, 'caller-unknown');
  assert.equal(core.lookups.lookup('127.0.0.10', 'ratings', 'dns').decision.reason, 'target-not-in-kubernetes');
  assert.equal(core.lookups.lookup('127.0.0.10', 'details', 'dns').decision.reason, 'target-no-ready-endpoints');
  assert.equal(core.lookups.lookup('127.0.0.10', 'nope', 'dns').instances.length, 0);
});

test('lookups: only meshed caller x meshed target lookups are observations; explain-style evaluate records nothing', async () => {
  const core = await testCore();
  core.lookups.lookup('127.0.0.10', 'reviews', 'http');
  core.lookups.lookup('127.0.0.10', 'ratings', 'http');
  core.lookups.lookup('127.0.0.20', 'reviews', 'dns');
  core.lookups.evaluate('127.0.0.10', 'reviews');
  assert.deepEqual(core.observations.map((o) => `${o.caller.workload}->${o.service}`), ['bookinfo/productpage->reviews']);
});

test('lookups: kill-switch and pins force the Consul answer with a higher index; undoing them restores the mesh', async () => {
  const core = await testCore();
  const i0 = core.lookups.lookup('127.0.0.10', 'reviews', 'http').index;
  await core.control.setMode('consul-only', who);
  const off = core.lookups.lookup('127.0.0.10', 'reviews', 'http');
  assert.equal(off.decision.reason, 'kill-switch');
  assert.ok(off.index > i0);
  assert.deepEqual(off.instances, core.world.current.consul.services.get('reviews')!.instances, 'exactly Consul\'s instances');
  await core.control.setMode('hybrid', who);
  const back = core.lookups.lookup('127.0.0.10', 'reviews', 'http');
  assert.equal(back.decision.route, 'mesh');
  assert.ok(back.index > off.index);

  await core.control.pin('Reviews', undefined, who);
  const pinned = core.lookups.lookup('127.0.0.10', 'reviews', 'http');
  assert.equal(pinned.decision.reason, 'pinned');
  assert.ok(pinned.index > back.index);
  await core.control.unpin('reviews', undefined, who);
  await core.control.pin('reviews', 'bookinfo/productpage', who);
  assert.equal(core.lookups.lookup('127.0.0.10', 'reviews', 'http').decision.reason, 'pinned');
  await core.control.pin('reviews', 'other/workload', who);
  await core.control.unpin('reviews', 'bookinfo/productpage', who);
  assert.equal(core.lookups.lookup('127.0.0.10', 'reviews', 'http').decision.route, 'mesh', 'a pin for another caller does not apply');
});

test('lookups: with Sidecar scoping on and a user-owned Sidecar, a ClusterIP only once that Sidecar lists the target (invariant 2)', async () => {
  const base = standardWorld();
  const scoped = { ...base, kube: { ...base.kube, sidecars: [sidecar('bookinfo', 'productpage', ['istio-system/*'])] } };
  const core = await testCore({ world: scoped, sidecars: { enabled: true } });
  assert.equal(core.lookups.lookup('127.0.0.10', 'reviews', 'http').decision.reason, 'sidecar-pending');
  const before = core.lookups.index(core.lookups.caller('127.0.0.10'), 'reviews');
  core.setWorld({ kube: { ...scoped.kube, sidecars: [sidecar('bookinfo', 'productpage', ['istio-system/*', 'bookinfo/reviews.bookinfo.svc.cluster.local'])] } });
  const after = core.lookups.lookup('127.0.0.10', 'reviews', 'http');
  assert.equal(after.decision.route, 'mesh');
  assert.ok(after.index > before);
});

type Op =
  | { kind: 'mode'; mode: 'hybrid' | 'shadow' | 'consul-only' }
  | { kind: 'pin' | 'unpin'; service: string }
  | { kind: 'world'; variant: number };

function variantWorld(v: number) {
  const base = standardWorld();
  const reviewsDown = (v & 1) === 1;
  const callerUnmeshed = (v & 2) === 2;
  const extraInstance = (v & 4) === 4;
  const consul = catalog([
    { service: 'reviews', node: 'haproxy-reviews-1', address: '10.1.0.1', port: 9080 },
    ...(extraInstance ? [{ service: 'reviews', node: 'haproxy-reviews-3', address: '10.1.0.3', port: 9080 }] : []),
    { service: 'ratings', node: 'haproxy-ratings-1', address: '10.1.1.1', port: 9080 },
  ]);
  const k = kube({
    services: [kubeService('bookinfo', 'reviews', '10.96.0.10', [{ port: 9080 }])],
    endpointSlices: [slice('bookinfo', 'reviews', [{ pod: 'r', ip: '10.244.0.5', ready: !reviewsDown }])],
    pods: [pod('bookinfo', 'r', '10.244.0.5', { meshed: true }), pod('bookinfo', 'pp', '127.0.0.10', { meshed: !callerUnmeshed, workload: 'productpage' })],
  });
  void base;
  return { consul, kube: k };
}

test('lookups: when a source IP loses its Pod the answer goes back to HAProxy and its index rises (invariant 6)', async () => {
  const base = standardWorld();
  const core = await testCore({ world: base });
  const meshed = core.lookups.lookup('127.0.0.10', 'reviews', 'http');
  assert.equal(meshed.decision.route, 'mesh');
  core.setWorld({ kube: { ...base.kube, pods: base.kube.pods.filter((p) => !p.ips.includes('127.0.0.10')) } });
  const gone = core.lookups.lookup('127.0.0.10', 'reviews', 'http');
  assert.equal(gone.decision.reason, 'caller-unknown');
  assert.ok(gone.index > meshed.index, `index ${gone.index} must rise above ${meshed.index}`);
  assert.equal(core.lookups.index('127.0.0.10', 'reviews'), gone.index);
});

test('lookups (property): per caller and service the index never decreases, is never 0, and rises when the answer changes (invariant 6)', async () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('mode' as const), mode: fc.constantFrom('hybrid' as const, 'shadow' as const, 'consul-only' as const) }),
    fc.record({ kind: fc.constantFrom('pin' as const, 'unpin' as const), service: fc.constantFrom('reviews', 'ratings') }),
    fc.record({ kind: fc.constant('world' as const), variant: fc.integer({ min: 0, max: 7 }) }),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops: Op[]) => {
      const core = await testCore({ world: variantWorld(0) });
      const pairs = [['127.0.0.10', 'reviews'], ['127.0.0.10', 'ratings'], ['127.0.0.20', 'reviews'], ['127.0.0.99', 'nope']] as const;
      const snap = () => pairs.map(([ip, s]) => {
        const r = core.lookups.evaluate(ip, s);
        return { index: r.index, answer: JSON.stringify([r.decision.route, r.instances]) };
      });
      let prev = snap();
      for (const o of ops) {
        if (o.kind === 'mode') await core.control.setMode(o.mode, who);
        else if (o.kind === 'pin') await core.control.pin(o.service, undefined, who);
        else if (o.kind === 'unpin') await core.control.unpin(o.service, undefined, who).catch(() => undefined);
        else if (o.kind === 'world') core.setWorld(variantWorld(o.variant));
        const next = snap();
        next.forEach((n, i) => {
          const p = prev[i]!;
          assert.ok(n.index >= 1);
          assert.ok(n.index >= p.index, 'index went backwards');
          if (n.answer !== p.answer) assert.ok(n.index > p.index, `answer changed without a higher index after ${JSON.stringify(o)}`);
        });
        prev = next;
      }
    }),
    { numRuns: 60 },
  );
});

test('lookups: answers are counted by front end, route and reason (folded in at scrape time)', async () => {
  const core = await testCore();
  core.lookups.lookup('127.0.0.10', 'reviews', 'http');
  core.lookups.lookup('127.0.0.10', 'reviews', 'http');
  core.lookups.lookup('127.0.0.20', 'reviews', 'dns');
  await core.control.setMode('shadow', who);
  core.lookups.lookup('127.0.0.10', 'reviews', 'dns');
  const text = await core.registry.metrics();
  assert.match(text, /discovery_answers_total\{via="http",route="mesh",reason="mesh"\} 2/);
  assert.match(text, /discovery_answers_total\{via="dns",route="consul",reason="caller-not-meshed"\} 1/);
  assert.match(text, /discovery_shadow_mesh_answers_total\{via="dns",reason="mesh"\} 1/);
  core.lookups.evaluate('127.0.0.10', 'reviews');
  assert.match(await core.registry.metrics(), /discovery_answers_total\{via="http",route="mesh",reason="mesh"\} 2/, 'explain does not count');
});
