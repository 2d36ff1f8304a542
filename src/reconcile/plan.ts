// PURE: one reconcile cycle's plan. From what the sink holds, who looked up what, and the world,
// it decides which managed Sidecars to write or delete and which problems stop or limit a write.
// No clock, timers, sink or logger: the runner (reconciler.ts) reads the sink, writes the plan and
// reports the problems.

import { compareStrings } from '../platform/compare.ts';
import { errorMessage } from '../platform/errors.ts';
import type { SidecarObject } from '../sinks/sidecar-sink.ts';
import type { SidecarInfo } from '../world/kube-types.ts';
import { selects } from '../world/labels.ts';
import { sidecarName, userSidecarsFor } from '../world/user-sidecars.ts';
import type { World } from '../world/world.ts';
import type { DesiredPolicy } from './desired.ts';
import { desiredSidecar, namespaceDefaultSidecar } from './desired.ts';
import type { ManagedSidecar } from './managed-sidecar.ts';
import { NAMESPACE_DEFAULT_NAME, renderSidecar, sameObject, validateSidecar } from './managed-sidecar.ts';
import type { NamespaceDefaultKey, SidecarKey, WorkloadSidecarKey } from './sidecar-key.ts';
import { namespaceDefault, sidecarRefOf, workloadSidecar } from './sidecar-key.ts';
import { stableSelector } from './workload-labels.ts';

export type ProblemKind = 'conflict' | 'over-cap' | 'no-selector' | 'selector-overlap' | 'invalid';

export interface Problem {
  readonly kind: ProblemKind;
  readonly detail: string;
  /** over-cap: the observed hosts left out. */
  readonly hosts?: readonly string[];
}

export interface KeyedProblem {
  readonly key: SidecarKey;
  readonly problem: Problem;
}

/** What a write of a workload's Sidecar changes (egress hosts, in order). */
export interface WorkloadSummary {
  readonly created: boolean;
  readonly added: readonly string[];
  /** Removed by expiry: the recorder forgets them once the write lands. */
  readonly removed: readonly string[];
  /** Marked for expiry by this sweep. */
  readonly marked: readonly string[];
  /** Marked earlier, looked up since: unmarked. */
  readonly renewed: readonly string[];
}

export interface NamespaceDefaultWritten {
  readonly created: boolean;
  readonly namespaceDefault: true;
}

export interface NamespaceDefaultDeleted {
  readonly deleted: true;
  readonly reason: string;
}

/** A change names its Sidecar the way a SidecarKey does, so it can be used as one. */
export interface WorkloadChange extends WorkloadSidecarKey {
  readonly next: ManagedSidecar;
  readonly object: SidecarObject;
  readonly summary: WorkloadSummary;
}

export interface NamespaceDefaultWrite extends NamespaceDefaultKey {
  readonly next: ManagedSidecar;
  readonly object: SidecarObject;
  readonly summary: NamespaceDefaultWritten;
}

export interface NamespaceDefaultDelete extends NamespaceDefaultKey {
  readonly next: null;
  readonly object: null;
  readonly summary: NamespaceDefaultDeleted;
}

export type SidecarChange = WorkloadChange | NamespaceDefaultWrite | NamespaceDefaultDelete;

export interface PlanInput {
  readonly world: World;
  /** Managed workload Sidecars the sink holds, by workload (namespace/name). */
  readonly owned: ReadonlyMap<string, ManagedSidecar>;
  /** Managed namespace defaults the sink holds, by namespace. */
  readonly namespaceDefaults: ReadonlyMap<string, ManagedSidecar>;
  /** Workloads to look at (any order; planned in name order). */
  readonly dirty: Iterable<string>;
  /** Also look at the namespace default of every namespace. */
  readonly planNamespaceDefaults: boolean;
  /** A workload's observed egress hosts -> last lookup time. */
  readonly observed: (workload: string) => ReadonlyMap<string, number>;
  /** User-owned Sidecars that apply to a workload; computed from the world when left out. */
  readonly userSidecars?: (workload: string) => readonly SidecarInfo[];
  readonly policy: DesiredPolicy;
  /** Istio's root namespace: never given a namespace default. */
  readonly rootNamespace: string;
  readonly now: number;
  /** An expiry sweep: hosts may be marked or removed. */
  readonly sweep: boolean;
  /** Host removals allowed in this cycle, over all workloads. */
  readonly deletionBudget: number;
}

export interface Plan {
  readonly changes: readonly SidecarChange[];
  /** At most one per Sidecar looked at. */
  readonly problems: readonly KeyedProblem[];
  /** Looked at and found without a problem: an earlier one is over. */
  readonly resolved: readonly SidecarKey[];
}

interface Outcome<C> {
  readonly change: C | null;
  readonly problem: Problem | null;
}

export function planChanges(input: PlanInput): Plan {
  const changes: SidecarChange[] = [];
  const problems: KeyedProblem[] = [];
  const resolved: SidecarKey[] = [];
  const note = (key: SidecarKey, o: Outcome<SidecarChange>) => {
    if (o.change) changes.push(o.change);
    if (o.problem) problems.push({ key, problem: o.problem });
    else resolved.push(key);
  };

  let deletionBudget = input.deletionBudget;
  for (const workload of [...input.dirty].sort(compareStrings)) {
    const o = planWorkload(input, workload, deletionBudget);
    deletionBudget -= o.removedHosts;
    note(workloadSidecar(workload), o);
  }
  if (input.planNamespaceDefaults) {
    for (const namespace of [...input.world.kube.namespaces].sort(compareStrings)) {
      if (namespace === input.rootNamespace) continue; // a selector-less Sidecar there would become the mesh-wide default
      note(namespaceDefault(namespace), planNamespaceDefault(input, namespace));
    }
  }
  return { changes, problems, resolved };
}

function planWorkload(input: PlanInput, workload: string, deletionBudget: number): Outcome<WorkloadChange> & { readonly removedHosts: number } {
  const { world } = input;
  const problem = (p: Problem) => ({ change: null, problem: p, removedHosts: 0 });
  const users = input.userSidecars ? input.userSidecars(workload) : userSidecarsFor(world, workload);
  if (users.length > 0) {
    return problem({ kind: 'conflict', detail: `user-owned Sidecar ${users.map(sidecarName).join(', ')} applies to ${workload}; Discovery writes none for it` });
  }
  const pods = world.podsByWorkload.get(workload) ?? [];
  const current = input.owned.get(workload);
  const selector = stableSelector(pods);
  if (pods.length > 0 && selector === null) return problem({ kind: 'no-selector', detail: `the Pods of ${workload} share no stable label to select them by` });
  const { namespace, name } = sidecarRefOf(workloadSidecar(workload));
  const overlap = selector ? world.kube.pods.find((p) => p.namespace === namespace && `${p.namespace}/${p.workload.name}` !== workload && selects(selector, p.labels)) : undefined;
  if (overlap) {
    return problem({ kind: 'selector-overlap', detail: `selector ${JSON.stringify(selector)} of ${workload} also matches Pod ${overlap.namespace}/${overlap.name}; not written` });
  }
  const res = desiredSidecar({
    workload: { namespace, name, kind: pods[0]?.workload.kind ?? current?.workloadKind ?? 'Unknown', selector },
    current,
    observed: input.observed(workload),
    now: input.now,
    policy: input.policy,
    sweep: input.sweep,
    deletionBudget,
  });
  if (!res.ok) return problem({ kind: 'no-selector', detail: `no Pods of ${workload} are known; nothing to select` });

  const removedHosts = res.removed.length;
  const overCap: Problem | null =
    res.overCap.length > 0
      ? { kind: 'over-cap', detail: `${res.overCap.length} observed hosts not added: Sidecar is at sidecars.maxHosts (${input.policy.maxHosts})`, hosts: res.overCap }
      : null;
  const object = renderSidecar(res.sidecar);
  if (current && sameObject(renderSidecar(current), object)) return { change: null, problem: overCap, removedHosts };
  const invalid = schemaProblem(object);
  if (invalid) return { change: null, problem: invalid, removedHosts };
  const summary: WorkloadSummary = { created: !current, added: res.added, removed: res.removed, marked: res.marked, renewed: res.renewed };
  return { change: { kind: 'workload', workload, next: res.sidecar, object, summary }, problem: overCap, removedHosts };
}

function planNamespaceDefault(input: PlanInput, namespace: string): Outcome<NamespaceDefaultWrite | NamespaceDefaultDelete> {
  const current = input.namespaceDefaults.get(namespace);
  const user = input.world.kube.sidecars.find((s) => !s.managed && s.namespace === namespace && (s.selector === null || Object.keys(s.selector).length === 0));
  if (user) {
    // Two selector-less Sidecars in a namespace is undefined in Istio: ours (which holds no observed host) yields.
    const problem: Problem = { kind: 'conflict', detail: `namespace-wide Sidecar ${sidecarName(user)} exists; no namespace default written` };
    const change: NamespaceDefaultDelete | null = current
      ? { kind: 'namespace', namespace, next: null, object: null, summary: { deleted: true, reason: 'user namespace-wide Sidecar' } }
      : null;
    return { change, problem };
  }
  const next = namespaceDefaultSidecar(namespace, NAMESPACE_DEFAULT_NAME, input.policy.defaults, current, input.now);
  const object = renderSidecar(next);
  if (current && sameObject(renderSidecar(current), object)) return { change: null, problem: null };
  const invalid = schemaProblem(object);
  if (invalid) return { change: null, problem: invalid };
  return { change: { kind: 'namespace', namespace, next, object, summary: { created: !current, namespaceDefault: true } }, problem: null };
}

function schemaProblem(object: SidecarObject): Problem | null {
  try {
    validateSidecar(object);
    return null;
  } catch (err) {
    return { kind: 'invalid', detail: `generated Sidecar fails Istio's schema: ${errorMessage(err)}` };
  }
}
