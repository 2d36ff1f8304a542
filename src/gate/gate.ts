// The Sidecar gate (invariant 2, docs/invariants.md): may this meshed caller be handed this meshed
// target's ClusterIP yet? Only once the caller's Sidecar lists the target and istiod has had time
// to push it. Lookups read the gate; the Sidecar reconciler feeds it what it has written (the one
// edge that runs against the data flow, drawn in docs/architecture.md).

import type { GateState } from '../decision/decide.ts';
import type { Caller, MeshTarget } from '../world/world.ts';

export interface SidecarGate {
  state(caller: Caller, target: MeshTarget): GateState;
  /** Index of the gate's state for this pair (0 when the gate never changed it). */
  index(caller: Caller, service: string): number;
  /** Facts for explain. */
  describe(caller: Caller, service: string): Record<string, unknown>;
}

/** Sidecar scoping off: Sidecars are not consulted, the gate never holds an answer back. */
export const GATE_OFF: SidecarGate = {
  state: () => 'off',
  index: () => 0,
  describe: () => ({ scoping: 'off' }),
};
