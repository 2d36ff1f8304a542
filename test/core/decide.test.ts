// Table tests of the decision (the decision table in README.md) plus a property: whatever the inputs, the
// kill-switch answers Consul's data, and a ClusterIP needs a meshed caller, a meshed target,
// no pin and a non-pending Sidecar (invariants 1, 2, 5).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decide, MODES, REASONS, type DecisionInput, type Mode, type GateState } from '../../src/decision/decide.ts';
import type { MeshStatus, MeshTarget } from '../../src/world/world.ts';

const STATUSES: MeshStatus[] = ['meshed', 'not-in-kubernetes', 'no-cluster-ip', 'no-ready-endpoints', 'endpoints-not-meshed', 'mapping-ambiguous', 'port-ambiguous'];

function target(status: MeshStatus): MeshTarget {
  return { status, detail: status, kubeServices: [], readyEndpoints: 1, meshedReadyEndpoints: 1, clusterIP: '10.96.0.1', port: 80, namespace: 'ns', serviceName: 's', fqdn: 's.ns.svc.cluster.local' };
}

const base: DecisionInput = { mode: 'hybrid', caller: { meshed: true }, target: target('meshed'), pinned: false, sidecar: 'off', kubeStale: false };

const table: Array<[string, Partial<DecisionInput>, string, string]> = [
  ['meshed caller, meshed target, Sidecar knows it', { sidecar: 'ready' }, 'mesh', 'mesh'],
  ['meshed caller, meshed target, scoping off', {}, 'mesh', 'mesh'],
  ['meshed caller, Sidecar not yet updated', { sidecar: 'pending' }, 'consul', 'sidecar-pending'],
  ['meshed caller, target not in Kubernetes', { target: target('not-in-kubernetes') }, 'consul', 'target-not-in-kubernetes'],
  ['meshed caller, target without ready endpoints', { target: target('no-ready-endpoints') }, 'consul', 'target-no-ready-endpoints'],
  ['meshed caller, target endpoints lack the sidecar', { target: target('endpoints-not-meshed') }, 'consul', 'target-not-meshed'],
  ['meshed caller, ambiguous mapping', { target: target('mapping-ambiguous') }, 'consul', 'mapping-ambiguous'],
  ['meshed caller, ambiguous port', { target: target('port-ambiguous') }, 'consul', 'port-ambiguous'],
  ['meshed caller, headless Service', { target: target('no-cluster-ip') }, 'consul', 'target-no-cluster-ip'],
  ['meshed caller, target unknown to Consul', { target: null }, 'consul', 'target-unknown'],
  ['unmeshed caller', { caller: { meshed: false } }, 'consul', 'caller-not-meshed'],
  ['unknown caller', { caller: null }, 'consul', 'caller-unknown'],
  ['pinned target', { pinned: true }, 'consul', 'pinned'],
  ['kill-switch on', { mode: 'consul-only' }, 'consul', 'kill-switch'],
  ['kill-switch beats an unknown caller', { mode: 'consul-only', caller: null }, 'consul', 'kill-switch'],
  ['shadow mode answers Consul', { mode: 'shadow' }, 'consul', 'shadow'],
  ['Kubernetes data stale', { kubeStale: true, sidecar: 'ready' }, 'consul', 'kube-stale'],
  ['kill-switch beats stale Kubernetes data', { kubeStale: true, mode: 'consul-only' }, 'consul', 'kill-switch'],
];

for (const [name, patch, route, reason] of table) {
  test(`decide: ${name} -> ${route} (${reason})`, () => {
    const d = decide({ ...base, ...patch });
    assert.equal(d.route, route);
    assert.equal(d.reason, reason);
    assert.ok(REASONS.includes(d.reason));
  });
}

test('decide: shadow mode reports what hybrid would have answered', () => {
  assert.deepEqual(decide({ ...base, mode: 'shadow' }).hybrid, { route: 'mesh', reason: 'mesh' });
  assert.deepEqual(decide({ ...base, mode: 'shadow', caller: null }).hybrid, { route: 'consul', reason: 'caller-unknown' });
});

const inputs = fc.record({
  mode: fc.constantFrom<Mode>(...MODES),
  caller: fc.option(fc.record({ meshed: fc.boolean() }), { nil: null }),
  target: fc.option(fc.constantFrom(...STATUSES).map(target), { nil: null }),
  pinned: fc.boolean(),
  sidecar: fc.constantFrom<GateState>('off', 'ready', 'pending'),
  kubeStale: fc.boolean(),
});

test('decide (property): a ClusterIP only for meshed caller x meshed target, unpinned, Sidecar not pending, Kubernetes data fresh, hybrid mode', () => {
  fc.assert(
    fc.property(inputs, (input) => {
      const d = decide(input);
      const meshAllowed = input.mode === 'hybrid' && input.caller?.meshed === true && input.target?.status === 'meshed' && !input.pinned && input.sidecar !== 'pending' && !input.kubeStale;
      assert.equal(d.route === 'mesh', meshAllowed);
      if (input.mode === 'consul-only') assert.deepEqual(d, { route: 'consul', reason: 'kill-switch' });
      assert.deepEqual(decide(input), d, 'pure: same input, same output');
    }),
    { numRuns: 2000 },
  );
});
