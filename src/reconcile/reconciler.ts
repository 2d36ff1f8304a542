// The runner of Sidecar scoping: observations + world -> plan (plan.ts) -> sink. Debounced (quiet
// period, max delay), rate limited, compare-before-write, and it never writes before it has read
// back what the sink holds: a failed read means "unknown", and writing then could shrink a Sidecar
// (invariant 3). Kill-switch or shadow mode: the plan is logged and counted, nothing is written.
//
// When replicas share the sink (the Kubernetes API), each one follows the cluster's managed
// Sidecars through the world (its informer): what the cluster holds is what it owns, and what the
// cluster shows listed opens the gate, so a host added through any replica opens it on all. Only
// the leader (the Lease holder) runs expiry sweeps and namespace-default writes; the others only
// add (docs/adr/0009-sidecar-merge-by-read-modify-write.md).

import type { SidecarConfig } from '../config/config.ts';
import type { PropagationGate } from '../gate/propagation-gate.ts';
import type { Clock, Timer } from '../platform/clock.ts';
import { Coalescer } from '../platform/coalesce.ts';
import { errorMessage } from '../platform/errors.ts';
import type { Logger } from '../platform/log.ts';
import type { ApplyResult, SidecarSink, SidecarWrite } from '../sinks/sidecar-sink.ts';
import type { ChangeSet } from '../world/changes.ts';
import type { ConflictIndex } from '../world/user-sidecars.ts';
import type { DesiredPolicy } from './desired.ts';
import { lastSeenResolution } from './desired.ts';
import type { ManagedSidecar } from './managed-sidecar.ts';
import { parseSidecar, sidecarObjectOf } from './managed-sidecar.ts';
import type { ScopingMetrics } from './metrics.ts';
import type { ObservationRecorder } from './observations.ts';
import type { NamespaceDefaultDelete, NamespaceDefaultWrite, Plan, Problem, SidecarChange, WorkloadChange } from './plan.ts';
import { planChanges } from './plan.ts';
import { WriteBudget } from './rate-limit.ts';
import type { ScopingCore } from './scoping.ts';
import type { ReadonlySidecarKeyMap, SidecarKey } from './sidecar-key.ts';
import { SidecarKeyMap, sidecarNameOf, sidecarRefOf } from './sidecar-key.ts';

export interface ReconcilerDeps {
  readonly ctx: ScopingCore;
  readonly sink: SidecarSink;
  readonly clock: Clock;
  readonly recorder: ObservationRecorder;
  readonly gate: PropagationGate;
  readonly conflicts: ConflictIndex;
  readonly metrics: ScopingMetrics;
  readonly config: SidecarConfig;
  /** Set when several replicas share the sink; null: this process is the only writer. */
  readonly shared: SharedSink | null;
}

export interface SharedSink {
  /** This replica holds the Lease: it alone removes hosts (expiry) and writes namespace defaults. */
  isLeader(): boolean;
  /** Called on each change of leadership; returns the unsubscribe. */
  onChange?(listener: (leader: boolean) => void): () => void;
}

export type ReadState = 'unread' | 'ok' | 'failed';

export class Reconciler {
  readonly #deps: ReconcilerDeps;
  readonly #log: Logger;
  readonly #policy: DesiredPolicy;
  readonly #coalescer: Coalescer;
  readonly #budget: WriteBudget;
  /** What the sink holds, by workload key (namespace/name). */
  readonly #owned = new Map<string, ManagedSidecar>();
  /** Managed namespace defaults, by namespace. */
  readonly #nsDefaults = new Map<string, ManagedSidecar>();
  /** Workloads whose Sidecar may need a write. */
  readonly #dirty = new Set<string>();
  readonly #problems = new SidecarKeyMap<Problem>();
  /** Dry run: the last diff logged per Sidecar, so an unchanged diff is not logged every cycle. */
  readonly #dryRunLogged = new SidecarKeyMap<string>();
  #nsDirty = true;
  #sweepDue = false;
  #read: ReadState = 'unread';
  #readError: string | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #stopped = false;
  #retry: Timer | null = null;
  #sweepTimer: Timer | null = null;
  #unsubscribe: (() => void) | null = null;
  #lastWriteAt: number | null = null;
  #writes = { applied: 0, dryRun: 0, errors: 0 };
  /** Shared sink: fingerprint of each managed Sidecar last seen in the world, by workload key. */
  #followed = new Map<string, string>();

  constructor(deps: ReconcilerDeps) {
    this.#deps = deps;
    this.#log = deps.ctx.log.child({ component: 'sidecar-reconciler' });
    const c = deps.config;
    this.#policy = { defaults: c.defaultHosts, maxHosts: c.maxHosts, expireAfterMs: c.expireAfterMs, lastSeenResolutionMs: lastSeenResolution(c.expireAfterMs) };
    this.#coalescer = new Coalescer(deps.clock, c.quietPeriodMs, c.maxDelayMs, () => this.requestFlush());
    this.#budget = new WriteBudget(deps.clock, c.maxWritesPerSecond);
  }

  get readState(): ReadState {
    return this.#read;
  }

  owned(): ReadonlyMap<string, ManagedSidecar> {
    return this.#owned;
  }

  namespaceDefaults(): ReadonlyMap<string, ManagedSidecar> {
    return this.#nsDefaults;
  }

  problems(): ReadonlySidecarKeyMap<Problem> {
    return this.#problems;
  }

  async start(): Promise<void> {
    this.#unsubscribe = this.#deps.ctx.bus.subscribe((c) => this.#onWorldChange(c));
    await this.#readBack();
    if (this.#deps.config.expireAfterMs > 0) this.#scheduleSweep();
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#retry?.cancel();
    this.#sweepTimer?.cancel();
    this.#coalescer.flushNow();
    await this.settled();
    this.#stopped = true;
    this.#coalescer.cancel();
  }

  /** Resolves once no cycle is running (tests and the benchmark wait on it). */
  async settled(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** A lookup was recorded; `host` is the target's egress host. Marks the workload dirty only if the Sidecar would change. */
  noteObservation(workload: string, host: string, outcome: 'new' | 'renewed' | 'dropped', at: number): void {
    if (outcome === 'dropped') {
      this.#deps.metrics.observationsDropped.inc();
      return;
    }
    const problem = this.#problems.forWorkload(workload);
    if (problem?.kind === 'conflict' || (problem?.kind === 'over-cap' && problem.hosts?.includes(host))) return;
    const rec = this.#owned.get(workload)?.hosts.get(host);
    const changes = !rec || rec.expiring !== undefined || at - rec.lastSeen >= this.#policy.lastSeenResolutionMs;
    if (!changes || this.#dirty.has(workload)) {
      if (changes) this.#coalescer.trigger();
      return;
    }
    // Not in the Sidecar: could still be imported by a default (istio-system/*); desired() decides.
    this.#dirty.add(workload);
    this.#coalescer.trigger();
  }

  requestFlush(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#cycle()
      .catch((err: unknown) => this.#log.error({ err }, 'sidecar reconcile cycle failed'))
      .finally(() => {
        this.#running = null;
        if (this.#again) {
          this.#again = false;
          this.requestFlush();
        }
      });
  }

  async #readBack(): Promise<void> {
    const now = this.#deps.clock.now();
    const rb = await this.#deps.sink.readBack().catch((err: unknown) => ({ ok: false as const, error: errorMessage(err) }));
    if (!rb.ok) {
      // Unknown is not empty: no writes until a read succeeds (a partial view must never shrink a Sidecar).
      this.#read = 'failed';
      this.#readError = rb.error;
      this.#deps.metrics.writeErrors.inc();
      this.#log.error({ sink: this.#deps.sink.name, error: rb.error }, 'cannot read back managed Sidecars; writes are paused and will retry');
      this.#scheduleRetry(Math.max(this.#deps.config.maxDelayMs, 1000), () => void this.#readBack());
      return;
    }
    const restored: string[] = [];
    for (const obj of rb.sidecars) {
      const rec = parseSidecar(obj, this.#policy.defaults, now);
      if (rec.workloadKind === 'Namespace') {
        this.#nsDefaults.set(rec.namespace, rec);
        continue;
      }
      const workload = `${rec.namespace}/${rec.name}`;
      this.#owned.set(workload, rec);
      for (const [h, r] of rec.hosts) this.#deps.recorder.seed(workload, h, r.lastSeen);
      this.#deps.gate.restore(workload, rec, now);
      restored.push(workload);
    }
    this.#read = 'ok';
    this.#readError = null;
    this.#deps.gate.announceRestored(restored);
    if (this.#deps.shared) this.#follow(true);
    this.#log.info({ sink: this.#deps.sink.name, sidecars: rb.sidecars.length }, 'managed Sidecars read back');
    // Anything observed meanwhile, plus a first look at conflicts and selectors.
    for (const w of this.#deps.recorder.workloads()) this.#dirty.add(w);
    if (this.#dirty.size > 0 || this.#deps.config.namespaceDefaults) this.#coalescer.trigger();
  }

  #onWorldChange(c: ChangeSet): void {
    if (this.#deps.gate.publishing || this.#stopped) return;
    const world = this.#deps.ctx.world.current;
    let any = this.#deps.shared !== null && this.#read === 'ok' && this.#follow(false);
    if (c.all) {
      // Mode switch (e.g. kill-switch off): everything dry-run skipped is written now.
      for (const w of this.#deps.recorder.workloads()) this.#dirty.add(w);
      for (const w of this.#owned.keys()) this.#dirty.add(w);
      this.#dryRunLogged.clear();
      any = true;
    }
    for (const ip of c.callers) {
      const caller = world.callers.get(ip);
      if (caller && (this.#owned.has(caller.workload) || this.#deps.recorder.hosts(caller.workload).size > 0)) {
        this.#dirty.add(caller.workload);
        any = true;
      }
    }
    // A caller whose Pod went away: re-check workloads with problems (a conflict may be gone).
    if (c.callers.size > 0) for (const w of this.#problems.workloads()) this.#dirty.add(w);
    if (c.callers.size > 0 || c.all) this.#nsDirty = true;
    if (any || c.callers.size > 0) this.#coalescer.trigger();
  }

  /**
   * Shared sink: adopt the cluster's managed Sidecars as owned, open the gate for what they list
   * (closing it for what they no longer list), and mark changed workloads dirty so a host removed
   * by hand is put back while this replica still sees it looked up. `initial`: the read-back has
   * just restored the same objects, so only the bookkeeping is taken. Returns true if anything changed.
   */
  #follow(initial: boolean): boolean {
    const now = this.#deps.clock.now();
    const next = new Map<string, string>();
    let changed = false;
    for (const info of this.#deps.ctx.world.current.kube.sidecars) {
      if (!info.managed) continue;
      const rec = parseSidecar(sidecarObjectOf(info), this.#policy.defaults, now);
      if (rec.workloadKind === 'Namespace') continue;
      const workload = `${rec.namespace}/${rec.name}`;
      const fp = JSON.stringify([info.egressHosts, info.selector, info.annotations]);
      next.set(workload, fp);
      if (this.#followed.get(workload) === fp) continue;
      changed = true;
      this.#adopt(workload, rec, initial ? null : now);
    }
    for (const workload of this.#followed.keys()) {
      if (next.has(workload)) continue;
      // Deleted from the cluster (by hand): nothing is listed any more, so nothing may be routed.
      const gone = this.#owned.get(workload);
      if (gone) this.#adopt(workload, { ...gone, hosts: new Map(), defaults: [] }, now);
      this.#owned.delete(workload);
      changed = true;
    }
    this.#followed = next;
    return changed;
  }

  #adopt(workload: string, rec: ManagedSidecar, seenAt: number | null): void {
    const before = this.#owned.get(workload);
    for (const [h, old] of before?.hosts ?? []) {
      if (rec.hosts.has(h)) continue;
      // Removed in the cluster (expiry by the leader, or by hand): forget it unless this replica saw a
      // lookup the cluster's record does not have, in which case the next plan puts it back.
      const own = this.#deps.recorder.get(workload, h);
      if (own && own.lastSeen <= old.lastSeen) this.#deps.recorder.forget(workload, h);
    }
    this.#owned.set(workload, rec);
    if (seenAt !== null) this.#deps.gate.written(workload, rec, seenAt);
    this.#dirty.add(workload);
  }

  #scheduleRetry(ms: number, fn: () => void): void {
    if (this.#retry || this.#stopped) return;
    this.#retry = this.#deps.clock.setTimer(ms, () => {
      this.#retry = null;
      fn();
    });
  }

  #scheduleSweep(): void {
    const every = Math.max(1000, Math.floor(this.#deps.config.expireAfterMs / 4));
    this.#sweepTimer = this.#deps.clock.setTimer(every, () => {
      // With a shared sink only the leader expires hosts.
      this.#sweepDue = !this.#deps.shared || this.#deps.shared.isLeader();
      for (const w of this.#owned.keys()) this.#dirty.add(w);
      this.requestFlush();
      this.#scheduleSweep();
    });
  }

  async #cycle(): Promise<void> {
    if (this.#read !== 'ok') return;
    const { changes } = this.#plan();
    if (changes.length === 0) return;

    const mode = this.#deps.ctx.control.mode;
    if (mode !== 'hybrid') return this.#dryRun(changes, mode);

    const granted = this.#budget.take(changes.length);
    const batch = changes.slice(0, granted);
    for (const c of changes.slice(granted)) this.#redirty(c);
    if (granted < changes.length) this.#scheduleRetry(this.#budget.waitMs(), () => this.requestFlush());
    if (batch.length === 0) return;

    const applies = batch.filter((c): c is WorkloadChange | NamespaceDefaultWrite => c.object !== null);
    const deletes = batch.filter((c): c is NamespaceDefaultDelete => c.object === null);
    const results = await Promise.all([
      applies.length ? this.#deps.sink.apply(applies.map(writeOf)).catch((err: unknown) => failAll(applies, err)) : EMPTY_RESULT,
      deletes.length ? this.#deps.sink.delete(deletes.map(sidecarRefOf)).catch((err: unknown) => failAll(deletes, err)) : EMPTY_RESULT,
    ]);
    const done = this.#deps.clock.now();
    const ok = new Set(results.flatMap((r) => r.applied));
    let failed = 0;
    for (const c of batch) {
      if (!ok.has(sidecarNameOf(c))) {
        failed++;
        this.#redirty(c);
        continue;
      }
      this.#commit(c, done);
    }
    const errors = results.flatMap((r) => r.failed);
    if (failed > 0) {
      this.#writes.errors += failed;
      this.#deps.metrics.writeErrors.inc(failed);
      this.#log.warn({ failed, first: errors[0]?.error }, 'Sidecar writes failed; will retry');
      this.#scheduleRetry(Math.max(this.#deps.config.maxDelayMs, 1000), () => this.requestFlush());
    }
  }

  /** Plans the dirty workloads (and namespace defaults when due), clears what it took, records the problems. */
  #plan(): Plan {
    const world = this.#deps.ctx.world.current;
    const sweep = this.#sweepDue;
    this.#sweepDue = false;
    const planNamespaceDefaults = this.#deps.config.namespaceDefaults && this.#nsDirty && (!this.#deps.shared || this.#deps.shared.isLeader());
    if (planNamespaceDefaults) this.#nsDirty = false;
    const plan = planChanges({
      world,
      owned: this.#owned,
      namespaceDefaults: this.#nsDefaults,
      dirty: this.#dirty,
      planNamespaceDefaults,
      observed: (w) => this.#deps.recorder.lastSeenMap(w),
      userSidecars: (w) => this.#deps.conflicts.for(world, w),
      policy: this.#policy,
      rootNamespace: this.#deps.ctx.config.istioRootNamespace,
      now: this.#deps.clock.now(),
      sweep,
      deletionBudget: this.#deps.config.maxDeletionsPerCycle,
    });
    this.#dirty.clear();
    for (const key of plan.resolved) this.#problems.delete(key);
    for (const { key, problem } of plan.problems) this.#report(key, problem);
    return plan;
  }

  #commit(c: SidecarChange, at: number): void {
    this.#writes.applied++;
    this.#lastWriteAt = at;
    this.#deps.metrics.writes.inc({ mode: 'applied' });
    if (c.kind === 'namespace') {
      if (c.next) this.#nsDefaults.set(c.namespace, c.next);
      else this.#nsDefaults.delete(c.namespace);
      return;
    }
    const { removed } = c.summary;
    for (const h of removed) this.#deps.recorder.forget(c.workload, h);
    if (removed.length > 0) this.#deps.metrics.hostsRemoved.inc(removed.length);
    this.#owned.set(c.workload, c.next);
    // A shared sink merged the write with other replicas' hosts: the gate opens when the world shows the result.
    if (!this.#deps.shared) this.#deps.gate.written(c.workload, c.next, at);
    this.#log.info({ sidecar: c.workload, ...c.summary }, 'Sidecar written');
  }

  #redirty(key: SidecarKey): void {
    if (key.kind === 'namespace') this.#nsDirty = true;
    else this.#dirty.add(key.workload);
  }

  #dryRun(changes: readonly SidecarChange[], mode: string): void {
    for (const c of changes) {
      const name = sidecarNameOf(c);
      const fp = JSON.stringify(c.object ?? { delete: name });
      if (this.#dryRunLogged.get(c) === fp) continue;
      this.#dryRunLogged.set(c, fp);
      this.#writes.dryRun++;
      this.#deps.metrics.writes.inc({ mode: 'dry-run' });
      this.#log.info({ sidecar: name, mode, ...c.summary }, 'dry run: Sidecar not written');
    }
  }

  #report(key: SidecarKey, p: Problem): void {
    const prev = this.#problems.get(key);
    this.#problems.set(key, p);
    if (prev?.detail !== p.detail) this.#log.warn({ sidecar: sidecarNameOf(key), problem: p.kind }, p.detail);
  }

  status(): Record<string, unknown> {
    return {
      sink: this.#deps.sink.name,
      readBack: this.#read,
      readError: this.#readError,
      mode: this.#deps.ctx.control.mode,
      dryRun: this.#deps.ctx.control.mode !== 'hybrid',
      managed: this.#owned.size,
      namespaceDefaults: this.#nsDefaults.size,
      dirty: this.#dirty.size,
      writes: { ...this.#writes },
      lastWriteAt: this.#lastWriteAt === null ? null : new Date(this.#lastWriteAt).toISOString(),
      problems: [...this.#problems.entries()].slice(0, 100).map(([k, p]) => ({ sidecar: sidecarNameOf(k), ...p })),
    };
  }
}

const EMPTY_RESULT: ApplyResult = { applied: [], failed: [] };

/** The hosts a workload change drops (expiry) travel with it, so a shared sink keeps every other host it holds. */
function writeOf(c: WorkloadChange | NamespaceDefaultWrite): SidecarWrite {
  return { object: c.object, removedHosts: c.kind === 'workload' ? c.summary.removed : [] };
}

function failAll(changes: readonly SidecarChange[], err: unknown): ApplyResult {
  return { applied: [], failed: changes.map((c) => ({ key: sidecarNameOf(c), error: errorMessage(err) })) };
}
