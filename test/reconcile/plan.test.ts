// The reconcile planner alone: a world, what the sink holds and what was observed in, the changes
// and problems out. No clock, no sink, no timers.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DesiredPolicy } from '../../src/reconcile/desired.ts';
import type { ManagedSidecar } from '../../src/reconcile/managed-sidecar.ts';
import type { PlanInput, WorkloadChange } from '../../src/reconcile/plan.ts';
import { planChanges } from '../../src/reconcile/plan.ts';
import type { PodInfo, SidecarInfo } from '../../src/world/kube-types.ts';
import { buildWorld } from '../../src/world/world.ts';
import { catalog, kube, pod, sidecar } from '../support/world-fixtures.ts';

const T0 = Date.parse('2026-03-01T00:00:00Z');
const PP = 'bookinfo/productpage';
const H = (svc: string, ns = 'bookinfo') => `${ns}/${svc}.${ns}.svc.cluster.local`;
const POLICY: DesiredPolicy = { defaults: ['istio-system/*'], maxHosts: 500, expireAfterMs: 0, lastSeenResolutionMs: 24 * 3600_000 };
const PP_LABELS = { app: 'productpage', version: 'v1', 'pod-template-hash': '7d9f' };

function world(extra: { pods?: PodInfo[]; sidecars?: SidecarInfo[] } = {}) {
  const pods = [
    pod('bookinfo', 'productpage-7d9f-a', '127.0.0.10', { meshed: true, workload: 'productpage', labels: PP_LABELS }),
    pod('bookinfo', 'productpage-7d9f-b', '127.0.0.11', { meshed: true, workload: 'productpage', labels: PP_LABELS }),
    pod('web', 'frontend-5c-x', '127.0.0.12', { meshed: true, workload: 'frontend' }),
    ...(extra.pods ?? []),
  ];
  const k = kube({ namespaces: ['bookinfo', 'web', 'istio-system'], pods, sidecars: extra.sidecars ?? [] });
  return buildWorld(catalog([]), k, { meshRule: 'any', clusterDomain: 'cluster.local', rootNamespace: 'istio-system' });
}

function input(over: Partial<PlanInput> & { seen?: Record<string, ReadonlyMap<string, number>> } = {}): PlanInput {
  const seen = over.seen ?? {};
  return {
    world: world(),
    owned: new Map(),
    namespaceDefaults: new Map(),
    dirty: [PP],
    planNamespaceDefaults: false,
    observed: (w) => seen[w] ?? new Map(),
    policy: POLICY,
    rootNamespace: 'istio-system',
    now: T0,
    sweep: false,
    deletionBudget: 50,
    ...over,
  };
}

function onlyWorkloadChange(plan: ReturnType<typeof planChanges>): WorkloadChange {
  assert.equal(plan.changes.length, 1);
  const change = plan.changes[0]!;
  assert.equal(change.kind, 'workload');
  return change;
}

test('a newly observed host is added to a new Sidecar for the workload', () => {
  const plan = planChanges(input({ seen: { [PP]: new Map([[H('reviews'), T0]]) } }));
  const change = onlyWorkloadChange(plan);
  assert.equal(change.workload, PP);
  assert.deepEqual(change.summary, { created: true, added: [H('reviews')], removed: [], marked: [], renewed: [] });
  assert.deepEqual(change.object.spec.egress[0]!.hosts, [H('reviews'), 'istio-system/*']);
  assert.deepEqual(change.object.spec.workloadSelector, { labels: { app: 'productpage', version: 'v1' } });
  assert.deepEqual(plan.problems, []);
  assert.deepEqual(plan.resolved, [{ kind: 'workload', workload: PP }]);
});

test('nothing changes when the Sidecar already lists every observed host', () => {
  const first = onlyWorkloadChange(planChanges(input({ seen: { [PP]: new Map([[H('reviews'), T0]]) } })));
  const again = planChanges(input({ owned: new Map([[PP, first.next]]), seen: { [PP]: new Map([[H('reviews'), T0 + 1000]]) }, now: T0 + 1000 }));
  assert.deepEqual(again.changes, []);
  assert.deepEqual(again.resolved, [{ kind: 'workload', workload: PP }]);
});

test('the typed summary of a change lists the hosts added and removed', () => {
  const policy = { ...POLICY, expireAfterMs: 1000, lastSeenResolutionMs: 100 };
  const first = onlyWorkloadChange(planChanges(input({ policy, seen: { [PP]: new Map([[H('reviews'), T0]]) } })));
  // A sweep marks reviews (unused for the whole expiry window) ...
  const marked = onlyWorkloadChange(planChanges(input({ policy, owned: new Map([[PP, first.next]]), seen: { [PP]: new Map([[H('reviews'), T0]]) }, now: T0 + 2000, sweep: true })));
  assert.deepEqual(marked.summary, { created: false, added: [], removed: [], marked: [H('reviews')], renewed: [] });
  // ... a later sweep removes it, while ratings is looked up for the first time.
  const later = T0 + 3000;
  const observed = new Map([[H('reviews'), T0], [H('ratings'), later]]);
  const change = onlyWorkloadChange(planChanges(input({ policy, owned: new Map([[PP, marked.next]]), seen: { [PP]: observed }, now: later, sweep: true })));
  assert.deepEqual(change.summary, { created: false, added: [H('ratings')], removed: [H('reviews')], marked: [], renewed: [] });
  assert.deepEqual(change.object.spec.egress[0]!.hosts, [H('ratings'), 'istio-system/*']);
});

test('the deletion budget is shared by every workload of the cycle', () => {
  const policy = { ...POLICY, expireAfterMs: 1000, lastSeenResolutionMs: 100 };
  const hosts = new Map([[H('a'), T0], [H('b'), T0]]);
  const fe = 'web/frontend';
  const seen = { [PP]: hosts, [fe]: hosts };
  const built = planChanges(input({ policy, dirty: [PP, fe], seen }));
  const owned = new Map(built.changes.map((c) => [(c as WorkloadChange).workload, c.next as ManagedSidecar]));
  const marked = planChanges(input({ policy, dirty: [PP, fe], owned, seen, now: T0 + 2000, sweep: true }));
  const owned2 = new Map(marked.changes.map((c) => [(c as WorkloadChange).workload, c.next as ManagedSidecar]));
  const swept = planChanges(input({ policy, dirty: [fe, PP], owned: owned2, seen, now: T0 + 3000, sweep: true, deletionBudget: 3 }));
  const removed = swept.changes.map((c) => [(c as WorkloadChange).workload, (c as WorkloadChange).summary.removed.length]);
  assert.deepEqual(removed, [[PP, 2], [fe, 1]], 'planned in name order; the budget runs out on the second');
});

test('a user-owned Sidecar selecting the workload: a conflict problem and no change', () => {
  const user = sidecar('bookinfo', 'pp-by-hand', [H('details')], { selector: { app: 'productpage' } });
  const plan = planChanges(input({ world: world({ sidecars: [user] }), seen: { [PP]: new Map([[H('reviews'), T0]]) } }));
  assert.deepEqual(plan.changes, []);
  assert.equal(plan.problems.length, 1);
  assert.deepEqual(plan.problems[0]!.key, { kind: 'workload', workload: PP });
  assert.equal(plan.problems[0]!.problem.kind, 'conflict');
  assert.match(plan.problems[0]!.problem.detail, /bookinfo\/pp-by-hand/);
  assert.deepEqual(plan.resolved, []);
});

test('a selector that would also select another workload\'s Pod: selector-overlap, no change', () => {
  const canary = pod('bookinfo', 'pp-canary-0', '127.0.0.15', { meshed: true, workload: 'pp-canary', labels: { app: 'productpage', version: 'v1', track: 'canary' } });
  const plan = planChanges(input({ world: world({ pods: [canary] }), seen: { [PP]: new Map([[H('reviews'), T0]]) } }));
  assert.deepEqual(plan.changes, []);
  assert.deepEqual(
    plan.problems.map((p) => [p.key, p.problem.kind]),
    [[{ kind: 'workload', workload: PP }, 'selector-overlap']],
  );
  assert.match(plan.problems[0]!.problem.detail, /bookinfo\/pp-canary-0/);
});

test('over the host cap: the hosts that fit are written, the rest reported as over-cap', () => {
  const observed = new Map([[H('a'), T0], [H('b'), T0], [H('c'), T0]]);
  const plan = planChanges(input({ policy: { ...POLICY, maxHosts: 3 }, seen: { [PP]: observed } }));
  const change = onlyWorkloadChange(plan);
  assert.deepEqual(change.summary.added, [H('a'), H('b')]);
  assert.equal(plan.problems.length, 1);
  const { key, problem } = plan.problems[0]!;
  assert.deepEqual(key, { kind: 'workload', workload: PP });
  assert.equal(problem.kind, 'over-cap');
  assert.deepEqual(problem.hosts, [H('c')]);
});

test('namespace defaults: one per namespace, never in the root namespace', () => {
  const plan = planChanges(input({ dirty: [], planNamespaceDefaults: true }));
  assert.deepEqual(
    plan.changes.map((c) => [c.kind, c.kind === 'namespace' ? c.namespace : c.workload, c.summary]),
    [
      ['namespace', 'bookinfo', { created: true, namespaceDefault: true }],
      ['namespace', 'web', { created: true, namespaceDefault: true }],
    ],
  );
  const web = plan.changes[1]!;
  assert.equal(web.object?.metadata.name, 'discovery-default');
  assert.deepEqual(web.object?.spec, { egress: [{ hosts: ['./*', 'istio-system/*'] }] });
  assert.deepEqual(plan.resolved, [{ kind: 'namespace', namespace: 'bookinfo' }, { kind: 'namespace', namespace: 'web' }]);
  // Not asked for: not planned.
  assert.deepEqual(planChanges(input({ dirty: [] })).changes, []);
});

test('namespace defaults yield to a user namespace-wide Sidecar: skipped, or deleted if written before', () => {
  const users = [sidecar('web', 'mine', ['./*'], { selector: null })];
  const plan = planChanges(input({ world: world({ sidecars: users }), dirty: [], planNamespaceDefaults: true }));
  assert.deepEqual(plan.changes.map((c) => (c.kind === 'namespace' ? c.namespace : c.workload)), ['bookinfo']);
  assert.deepEqual(plan.problems.map((p) => [p.key, p.problem.kind]), [[{ kind: 'namespace', namespace: 'web' }, 'conflict']]);

  const ours = planChanges(input({ dirty: [], planNamespaceDefaults: true })).changes;
  const held = new Map(ours.map((c) => [c.kind === 'namespace' ? c.namespace : '', c.next as ManagedSidecar]));
  const again = planChanges(input({ world: world({ sidecars: users }), namespaceDefaults: held, dirty: [], planNamespaceDefaults: true }));
  assert.equal(again.changes.length, 1);
  const del = again.changes[0]!;
  assert.ok(del.kind === 'namespace' && del.object === null);
  assert.equal(del.namespace, 'web');
  assert.deepEqual(del.summary, { deleted: true, reason: 'user namespace-wide Sidecar' });
});
