// What the status page shows, assembled from the replica's state in one pass: the Consul services by
// what Discovery can make of them (Consul only, mapped, meshed, blocked) with the reason codes, per
// service the caller workloads that get the ClusterIP, the Sidecars, the mode and pins, the
// sources, and the CLI commands for what an operator may want to do next. Pure: everything it
// reads comes in through StatusInputs; rendering is in status-html.ts.

import type { ControlStatus } from '../control/control-store.ts';
import type { Pin } from '../control/state.ts';
import { TARGET_REASON, type Decision, type Reason } from '../decision/decide.ts';
import type { Caller, MeshStatus, World, WorldProblem } from '../world/world.ts';
import { sidecarSummary, sourceSummaries, type SidecarSummary, type SourceSummary } from './status-inputs.ts';

/** A meshed service's caller workloads, by what their lookups get. */
export interface ServiceCallers {
  /** Answered with the ClusterIP (or, in shadow mode, would be). */
  readonly mesh: readonly string[];
  /** Their Sidecar lists the target but has not propagated yet. */
  readonly pending: readonly string[];
  /** Callers held back by a pin of their own (a pin of the whole service is in ServiceRow.pin). */
  readonly pinned: readonly string[];
}

export type ServiceCategory = 'consul-only' | 'mapped' | 'meshed' | 'blocked';

export interface ServiceRow {
  readonly name: string;
  readonly category: ServiceCategory;
  readonly status: MeshStatus;
  /** The reason code a meshed caller gets for this target when it is not meshed (or pinned); null when meshed. */
  readonly reason: Reason | null;
  readonly detail: string;
  readonly kubeServices: readonly string[];
  readonly clusterIP: string | null;
  readonly port: number | null;
  readonly instances: number;
  readonly pin: Pin | null;
  /** Only for meshed targets. */
  readonly callers: ServiceCallers | null;
}

export interface SuggestedAction {
  readonly why: string;
  readonly command: string;
}

export interface StatusData {
  readonly generatedAt: string;
  readonly replica: string | null;
  readonly ready: boolean;
  readonly control: {
    readonly mode: string;
    readonly sharedMode: string;
    readonly reason: string;
    readonly changedAt: string | null;
    readonly changedBy: string | null;
    readonly localOverride: { readonly mode: string; readonly reason: string; readonly actor: string; readonly at: string } | null;
    readonly store: { readonly name: string; readonly reachable: boolean; readonly unreachableSince: string | null; readonly lastError: string | null };
    readonly pins: readonly Pin[];
  };
  readonly counts: Readonly<Record<ServiceCategory, number>> & { readonly total: number };
  /** Reason codes of the services that are not meshed, with how many and which. */
  readonly reasons: ReadonlyArray<{ readonly reason: Reason; readonly category: ServiceCategory; readonly services: readonly string[] }>;
  readonly services: readonly ServiceRow[];
  readonly pairs: { readonly ready: number; readonly pending: number; readonly pinned: number; readonly truncated: boolean };
  readonly sidecars: SidecarSummary;
  readonly sources: readonly SourceSummary[];
  readonly kubeStale: boolean;
  readonly callers: { readonly known: number; readonly meshed: number; readonly workloads: number };
  readonly problems: readonly WorldProblem[];
  readonly actions: readonly SuggestedAction[];
}

export interface StatusInputs {
  readonly world: World;
  readonly kubeStale: boolean;
  readonly control: ControlStatus;
  /** The decision a lookup by `caller` of `service` gets now, without side effects. */
  readonly evaluate: (caller: Caller, service: string) => Decision;
  /** The Sidecar gate's facts for the pair (`writtenAt`: when the target went into the caller's Sidecar). */
  readonly describePair: (caller: Caller, service: string) => Record<string, unknown>;
  readonly ready: boolean;
  /** /readyz detail: `sources` is read. */
  readonly readyDetail: Record<string, unknown>;
  readonly sidecars: { readonly enabled: boolean; readonly status: Record<string, unknown> };
  readonly now: Date;
  /** At most this many (workload, service) decisions are evaluated; the rest is reported as truncated. */
  readonly maxPairs?: number;
}

const BLOCKING_STATUSES: ReadonlySet<MeshStatus> = new Set(['mapping-ambiguous', 'port-ambiguous', 'no-cluster-ip']);

function categoryOf(status: MeshStatus, pinnedForAll: boolean): ServiceCategory {
  if (status === 'not-in-kubernetes') return 'consul-only';
  if (BLOCKING_STATUSES.has(status) || (status === 'meshed' && pinnedForAll)) return 'blocked';
  return status === 'meshed' ? 'meshed' : 'mapped';
}

/** One meshed Pod per caller workload (the lowest IP), sorted by workload: the decision depends on the workload. */
function callerWorkloads(world: World): Caller[] {
  const byWorkload = new Map<string, Caller>();
  for (const c of world.callers.values()) {
    if (!c.pod.meshed) continue;
    const seen = byWorkload.get(c.workload);
    if (!seen || c.ip < seen.ip) byWorkload.set(c.workload, c);
  }
  return [...byWorkload.values()].sort((a, b) => (a.workload < b.workload ? -1 : a.workload > b.workload ? 1 : 0));
}

/** `servicePinned`: a pin holds every caller back; pinned callers are then not listed one by one. */
function callersOf(name: string, callers: readonly Caller[], inputs: StatusInputs, servicePinned: boolean): ServiceCallers {
  const mesh: string[] = [];
  const pending: string[] = [];
  const pinned: string[] = [];
  for (const c of callers) {
    const d = inputs.evaluate(c, name);
    const effective = d.hybrid ?? d;
    if (effective.route === 'mesh') mesh.push(c.workload);
    else if (effective.reason === 'pinned') {
      if (!servicePinned) pinned.push(c.workload);
    }
    else if (effective.reason === 'sidecar-pending') {
      // Only pairs written and still propagating: a pair nobody asked for is pending too, and not news.
      if (inputs.describePair(c, name)['writtenAt']) pending.push(c.workload);
    }
  }
  return { mesh, pending, pinned };
}

export function assembleStatus(inputs: StatusInputs): StatusData {
  const { world, control } = inputs;
  const callers = callerWorkloads(world);
  const maxPairs = inputs.maxPairs ?? 100_000;
  let evaluated = 0;
  let truncated = false;
  const counts = { 'consul-only': 0, mapped: 0, meshed: 0, blocked: 0 };
  const reasons = new Map<Reason, { category: ServiceCategory; services: string[] }>();
  const services: ServiceRow[] = [];
  const pinsByService = new Map(control.shared.pins.filter((p) => p.caller === undefined).map((p) => [p.service, p]));

  for (const [key, svc] of world.consul.services) {
    const target = world.targets.get(key);
    if (!target) continue;
    const pin = pinsByService.get(key) ?? null;
    const category = categoryOf(target.status, pin !== null);
    counts[category]++;
    const reason: Reason | null = target.status === 'meshed' ? (pin ? 'pinned' : null) : TARGET_REASON[target.status];
    if (reason) {
      const entry = reasons.get(reason) ?? { category, services: [] };
      entry.services.push(svc.name);
      reasons.set(reason, entry);
    }
    let rowCallers: ServiceCallers | null = null;
    if (target.status === 'meshed') {
      if (evaluated + callers.length <= maxPairs) {
        rowCallers = callersOf(key, callers, inputs, pin !== null);
        evaluated += callers.length;
      } else truncated = true;
    }
    services.push({
      name: svc.name,
      category,
      status: target.status,
      reason,
      detail: target.detail,
      kubeServices: target.kubeServices,
      clusterIP: target.clusterIP ?? null,
      port: target.port ?? null,
      instances: svc.instances.length,
      pin,
      callers: rowCallers,
    });
  }

  const sum = (f: (c: ServiceCallers) => number) => services.reduce((n, s) => n + (s.callers ? f(s.callers) : 0), 0);
  const pairs = { ready: sum((c) => c.mesh.length), pending: sum((c) => c.pending.length), pinned: sum((c) => c.pinned.length), truncated };
  const data: Omit<StatusData, 'actions'> = {
    generatedAt: inputs.now.toISOString(),
    replica: control.replica,
    ready: inputs.ready,
    control: {
      mode: control.mode,
      sharedMode: control.shared.mode,
      reason: control.shared.modeReason,
      changedAt: control.shared.modeChangedAt,
      changedBy: control.shared.modeChangedBy,
      localOverride: control.localOverride ? { ...control.localOverride } : null,
      store: { name: control.backend.name, reachable: control.backend.reachable, unreachableSince: control.backend.unreachableSince, lastError: control.backend.lastError },
      pins: control.shared.pins,
    },
    counts: { ...counts, total: services.length },
    reasons: [...reasons].map(([reason, r]) => ({ reason, category: r.category, services: r.services })).sort((a, b) => b.services.length - a.services.length || (a.reason < b.reason ? -1 : 1)),
    services,
    pairs,
    sidecars: sidecarSummary(inputs.sidecars),
    sources: sourceSummaries(inputs.readyDetail),
    kubeStale: inputs.kubeStale,
    callers: { known: world.callers.size, meshed: [...world.callers.values()].filter((c) => c.pod.meshed).length, workloads: callers.length },
    problems: world.problems,
  };
  return { ...data, actions: suggestActions(data, callers) };
}

/** What an operator may want to do next, each with the command that does it. */
function suggestActions(d: Omit<StatusData, 'actions'>, callers: readonly Caller[]): SuggestedAction[] {
  const out: SuggestedAction[] = [];
  const c = d.control;
  if (c.localOverride) out.push({ why: `This replica runs on a local override (${c.localOverride.mode}) set by ${c.localOverride.actor}: ${c.localOverride.reason}. Return it to the shared mode (${c.sharedMode}):`, command: 'discovery killswitch clear --local' });
  if (c.sharedMode === 'consul-only') out.push({ why: 'The kill-switch is on: every caller gets Consul\u2019s answer. When the incident is over, turn it off:', command: 'discovery killswitch off --reason "TEXT"' });
  else if (c.sharedMode === 'shadow') out.push({ why: 'Shadow mode: answers are Consul\u2019s, the mesh answers are only counted. To start answering with ClusterIPs:', command: 'discovery mode hybrid --reason "TEXT"' });
  else out.push({ why: 'To send every caller back to Consul\u2019s answers at once (rollback):', command: 'discovery killswitch on --reason "TEXT"' });
  if (!c.store.reachable) out.push({ why: `The control store ${c.store.name} cannot be reached: changes to the shared mode do not reach this replica. To act on this replica alone:`, command: 'discovery killswitch on --local --reason "TEXT"' });
  for (const p of c.pins) {
    out.push({ why: `${p.service} is pinned to HAProxy${p.caller ? ` for ${p.caller}` : ''} by ${p.actor}: ${p.reason}. To let it be meshed again:`, command: `discovery unpin ${p.service}${p.caller ? ` --caller ${p.caller}` : ''} --reason "TEXT"` });
  }
  // A meshed caller to explain blocked and mapped services from (any caller works: the target decides first).
  const from = callers[0]?.ip ?? '<CALLER-IP>';
  for (const s of d.services) {
    if (s.category === 'blocked' && !s.pin) out.push({ why: `${s.name} cannot be meshed (${s.reason ?? s.status}): ${s.detail}. The facts behind it:`, command: `discovery explain ${s.name} --from ${from}` });
    if (s.callers && s.callers.pending.length > 0) {
      const w = s.callers.pending[0]!;
      const ns = w.slice(0, w.indexOf('/'));
      out.push({ why: `${s.callers.pending.length} caller workload(s) of ${s.name} wait for their Sidecar (e.g. ${w}). The Sidecars in ${ns}:`, command: `discovery sidecars -n ${ns} -o yaml` });
    }
  }
  for (const p of d.sidecars.conflicts) out.push({ why: `Sidecar ${p.sidecar}: ${p.detail}. The managed Sidecars:`, command: `discovery sidecars -n ${p.sidecar.slice(0, Math.max(0, p.sidecar.indexOf('/')))} -o yaml` });
  const meshed = d.services.find((s) => s.category === 'meshed');
  if (meshed) out.push({ why: `To force one service (e.g. ${meshed.name}) back to HAProxy for every caller:`, command: `discovery pin ${meshed.name} --reason "TEXT"` });
  out.push({ why: 'Who changed the mode and pins, when and why:', command: 'discovery audit' });
  return out;
}
