// The decision: caller x target x mode -> which address a lookup gets.
// Pure and total: no clock, no I/O, no logging. Everything it depends on is in DecisionInput,
// so `explain` can show the same facts the answer was made from.

import type { MeshStatus, MeshTarget } from '../world/world.ts';

export type Mode = 'hybrid' | 'shadow' | 'consul-only';
export const MODES: readonly Mode[] = ['hybrid', 'shadow', 'consul-only'];

export type Route = 'consul' | 'mesh';

export const REASONS = [
  'kill-switch',
  'shadow',
  'kube-stale',
  'caller-unknown',
  'caller-not-meshed',
  'target-unknown',
  'target-not-in-kubernetes',
  'target-no-cluster-ip',
  'target-no-ready-endpoints',
  'target-not-meshed',
  'mapping-ambiguous',
  'port-ambiguous',
  'pinned',
  'sidecar-pending',
  'mesh',
] as const;
export type Reason = (typeof REASONS)[number];

/** Whether the caller's Sidecar lets it route to the target: gating off, listed (ready), or not yet. */
export type GateState = 'off' | 'ready' | 'pending';

export interface DecisionInput {
  readonly mode: Mode;
  /** null: no Pod has the request's source address. */
  readonly caller: { readonly meshed: boolean } | null;
  /** null: Consul does not know the target. */
  readonly target: MeshTarget | null;
  readonly pinned: boolean;
  readonly sidecar: GateState;
  /** The Kubernetes data cannot be followed (watches down too long): a Pod IP may have been reused, so no caller is trusted. */
  readonly kubeStale: boolean;
}

export interface Decision {
  readonly route: Route;
  readonly reason: Reason;
  /** In shadow mode: what hybrid mode would have answered. */
  readonly hybrid?: { readonly route: Route; readonly reason: Reason };
}

/** The reason code of a target that cannot be meshed, by its mesh status. */
export const TARGET_REASON: Readonly<Record<Exclude<MeshStatus, 'meshed'>, Reason>> = {
  'not-in-kubernetes': 'target-not-in-kubernetes',
  'no-cluster-ip': 'target-no-cluster-ip',
  'no-ready-endpoints': 'target-no-ready-endpoints',
  'endpoints-not-meshed': 'target-not-meshed',
  'mapping-ambiguous': 'mapping-ambiguous',
  'port-ambiguous': 'port-ambiguous',
};

// Decisions are shared frozen constants: the per-query path allocates nothing, and counters can
// key on the object itself.
const CONSUL = Object.fromEntries(REASONS.map((r) => [r, Object.freeze({ route: 'consul', reason: r })])) as Record<Reason, Decision>;
const MESH: Decision = Object.freeze({ route: 'mesh', reason: 'mesh' });
const SHADOW = new Map<Decision, Decision>();
for (const h of [...Object.values(CONSUL), MESH]) {
  SHADOW.set(h, Object.freeze({ route: 'consul', reason: 'shadow', hybrid: Object.freeze({ route: h.route, reason: h.reason }) }));
}

function consul(reason: Reason): Decision {
  return CONSUL[reason];
}

function hybrid(input: DecisionInput): Decision {
  if (input.kubeStale) return consul('kube-stale');
  if (input.caller === null) return consul('caller-unknown');
  if (!input.caller.meshed) return consul('caller-not-meshed');
  if (input.target === null) return consul('target-unknown');
  if (input.target.status !== 'meshed') return consul(TARGET_REASON[input.target.status]);
  if (input.pinned) return consul('pinned');
  if (input.sidecar === 'pending') return consul('sidecar-pending');
  return MESH;
}

export function decide(input: DecisionInput): Decision {
  if (input.mode === 'consul-only') return consul('kill-switch');
  const h = hybrid(input);
  if (input.mode === 'shadow') return SHADOW.get(h)!;
  return h;
}
