// Invariant 2: a meshed caller gets a ClusterIP only once its Sidecar lets its proxy route there.
// The gate answers that question for a (caller, target) pair; the reconciler provides a stricter
// gate (written + propagation delay) once Sidecar scoping is on.

import type { SidecarGate } from '../decision/decide.ts';
import type { Caller, MeshTarget } from '../world/world.ts';
import { egressImports } from '../world/istio-hosts.ts';

export interface SidecarGateView {
  gate(caller: Caller, target: MeshTarget, service: string): SidecarGate;
  /** Index of the gate state for this pair (0 when the gate never changed it). */
  index(caller: Caller, service: string): number;
  /** Facts for explain. */
  describe(caller: Caller, service: string): Record<string, unknown>;
}

/** Scoping off: Sidecars are not consulted. */
export const NO_GATE: SidecarGateView = {
  gate: () => 'off',
  index: () => 0,
  describe: () => ({ scoping: 'off' }),
};

/** Does the Sidecar that Istio applies to this caller import the target's host? No Sidecar: the proxy sees the whole mesh. */
export function scopeImports(caller: Caller, target: MeshTarget): boolean {
  if (caller.scope.kind === 'none') return true;
  if (!target.fqdn || !target.namespace) return false;
  return egressImports(caller.scope.sidecar.egressHosts, caller.scope.sidecar.namespace, target.namespace, target.fqdn);
}

/** Gate from the Sidecars in the world alone (no propagation delay): listed means ready. */
export const WORLD_SIDECAR_GATE: SidecarGateView = {
  gate: (caller, target) => (scopeImports(caller, target) ? 'ready' : 'pending'),
  index: () => 0,
  describe: (caller) => ({
    scoping: 'world',
    sidecar: caller.scope.kind === 'none' ? null : `${caller.scope.sidecar.namespace}/${caller.scope.sidecar.name} (${caller.scope.kind})`,
  }),
};
