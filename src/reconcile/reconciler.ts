// Observations + world -> desired Sidecars -> sink. Debounced (quiet period, max delay), rate
// limited, compare-before-write, and it never writes before it has read back what the sink holds:
// a failed read means "unknown", and writing then could shrink a Sidecar (invariant 3).
// Kill-switch or shadow mode: diffs are computed, logged and counted, nothing is written.

import type { PropagationGate } from '../gate/propagation-gate.ts';
import type { SidecarConfig } from '../config/config.ts';
import type { ObservationRecorder } from './observations.ts';
import type { Clock, Timer } from '../platform/clock.ts';
import { errorMessage } from '../platform/errors.ts';
import type { Logger } from '../platform/log.ts';
import type { SidecarObject, SidecarSink } from '../sinks/sidecar-sink.ts';
import { sidecarKey } from '../sinks/sidecar-sink.ts';
import type { ChangeSet } from '../world/changes.ts';
import { Coalescer } from '../platform/coalesce.ts';
import type { ConflictIndex } from '../world/user-sidecars.ts';
import { sidecarName } from '../world/user-sidecars.ts';
import type { DesiredPolicy } from './desired.ts';
import { desiredSidecar, lastSeenResolution, namespaceDefaultSidecar } from './desired.ts';
import type { ManagedSidecar } from './managed-sidecar.ts';
import { NAMESPACE_DEFAULT_NAME, parseSidecar, renderSidecar, sameObject, validateSidecar } from './managed-sidecar.ts';
import type { ScopingMetrics } from './metrics.ts';
import { WriteBudget } from './rate-limit.ts';
import { selects } from '../world/labels.ts';
import type { ScopingCore } from './scoping.ts';
import { stableSelector } from './workload-labels.ts';

export type ProblemKind = 'conflict' | 'over-cap' | 'no-selector' | 'selector-overlap' | 'invalid' | 'write-failed';

export interface Problem {
  readonly kind: ProblemKind;
  readonly detail: string;
  readonly hosts?: readonly string[];
}

export interface ReconcilerDeps {
  readonly ctx: ScopingCore;
  readonly sink: SidecarSink;
  readonly clock: Clock;
  readonly recorder: ObservationRecorder;
  readonly gate: PropagationGate;
  readonly conflicts: ConflictIndex;
  readonly metrics: ScopingMetrics;
  readonly config: SidecarConfig;
}

interface Change {
  /** Workload key, or `ns:<namespace>` for a namespace default. */
  readonly key: string;
  readonly next: ManagedSidecar | null;
  readonly object: SidecarObject | null;
  readonly summary: Record<string, unknown>;
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
  readonly #dirty = new Set<string>();
  readonly #problems = new Map<string, Problem>();
  /** Dry run: the last diff logged per key, so an unchanged diff is not logged every cycle. */
  readonly #dryRunLogged = new Map<string, string>();
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

  get policy(): DesiredPolicy {
    return this.#policy;
  }

  owned(): ReadonlyMap<string, ManagedSidecar> {
    return this.#owned;
  }

  namespaceDefaults(): ReadonlyMap<string, ManagedSidecar> {
    return this.#nsDefaults;
  }

  problems(): ReadonlyMap<string, Problem> {
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
    const problem = this.#problems.get(workload);
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
    this.#log.info({ sink: this.#deps.sink.name, sidecars: rb.sidecars.length }, 'managed Sidecars read back');
    // Anything observed meanwhile, plus a first look at conflicts and selectors.
    for (const w of this.#deps.recorder.workloads()) this.#dirty.add(w);
    if (this.#dirty.size > 0 || this.#deps.config.namespaceDefaults) this.#coalescer.trigger();
  }

  #onWorldChange(c: ChangeSet): void {
    if (this.#deps.gate.publishing || this.#stopped) return;
    const world = this.#deps.ctx.world.current;
    let any = false;
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
    if (c.callers.size > 0) for (const w of this.#problems.keys()) if (!w.startsWith('ns:')) this.#dirty.add(w);
    if (c.callers.size > 0 || c.all) this.#nsDirty = true;
    if (any || c.callers.size > 0) this.#coalescer.trigger();
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
      this.#sweepDue = true;
      for (const w of this.#owned.keys()) this.#dirty.add(w);
      this.requestFlush();
      this.#scheduleSweep();
    });
  }

  async #cycle(): Promise<void> {
    if (this.#read !== 'ok') return;
    const now = this.#deps.clock.now();
    const sweep = this.#sweepDue;
    this.#sweepDue = false;
    const changes = this.#workloadChanges(now, sweep);
    if (this.#deps.config.namespaceDefaults && this.#nsDirty) changes.push(...this.#namespaceChanges(now));
    if (changes.length === 0) return;

    const mode = this.#deps.ctx.control.mode;
    if (mode !== 'hybrid') return this.#dryRun(changes, mode);

    const granted = this.#budget.take(changes.length);
    const batch = changes.slice(0, granted);
    for (const c of changes.slice(granted)) this.#redirty(c.key);
    if (granted < changes.length) this.#scheduleRetry(this.#budget.waitMs(), () => this.requestFlush());
    if (batch.length === 0) return;

    const applies = batch.filter((c) => c.object !== null);
    const deletes = batch.filter((c) => c.object === null);
    const results = await Promise.all([
      applies.length ? this.#deps.sink.apply(applies.map((c) => c.object!)).catch((err: unknown) => failAll(applies, err)) : EMPTY_RESULT,
      deletes.length ? this.#deps.sink.delete(deletes.map((c) => refOf(c.key))).catch((err: unknown) => failAll(deletes, err)) : EMPTY_RESULT,
    ]);
    const done = this.#deps.clock.now();
    const ok = new Set(results.flatMap((r) => r.applied));
    let failed = 0;
    for (const c of batch) {
      const key = c.object ? sidecarKey(c.object) : sidecarKeyOfRef(c.key);
      if (!ok.has(key)) {
        failed++;
        this.#redirty(c.key);
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

  #commit(c: Change, at: number): void {
    this.#writes.applied++;
    this.#lastWriteAt = at;
    this.#deps.metrics.writes.inc({ mode: 'applied' });
    if (c.key.startsWith('ns:')) {
      const ns = c.key.slice(3);
      if (c.next) this.#nsDefaults.set(ns, c.next);
      else this.#nsDefaults.delete(ns);
      return;
    }
    if (!c.next) return;
    const removed = (c.summary['removed'] as string[] | undefined) ?? [];
    for (const h of removed) this.#deps.recorder.forget(c.key, h);
    if (removed.length > 0) this.#deps.metrics.hostsRemoved.inc(removed.length);
    this.#owned.set(c.key, c.next);
    this.#deps.gate.written(c.key, c.next, at);
    this.#log.info({ sidecar: c.key, ...c.summary }, 'Sidecar written');
  }

  #redirty(key: string): void {
    if (key.startsWith('ns:')) this.#nsDirty = true;
    else this.#dirty.add(key);
  }

  #dryRun(changes: Change[], mode: string): void {
    for (const c of changes) {
      const fp = JSON.stringify(c.object ?? { delete: c.key });
      if (this.#dryRunLogged.get(c.key) === fp) continue;
      this.#dryRunLogged.set(c.key, fp);
      this.#writes.dryRun++;
      this.#deps.metrics.writes.inc({ mode: 'dry-run' });
      this.#log.info({ sidecar: c.key, mode, ...c.summary }, 'dry run: Sidecar not written');
    }
  }

  #workloadChanges(now: number, sweep: boolean): Change[] {
    const world = this.#deps.ctx.world.current;
    let deletionBudget = this.#deps.config.maxDeletionsPerCycle;
    const work = [...this.#dirty].sort();
    this.#dirty.clear();
    const changes: Change[] = [];
    for (const workload of work) {
      const users = this.#deps.conflicts.for(world, workload);
      if (users.length > 0) {
        this.#report(workload, { kind: 'conflict', detail: `user-owned Sidecar ${users.map(sidecarName).join(', ')} applies to ${workload}; Discovery writes none for it` });
        continue;
      }
      const pods = world.podsByWorkload.get(workload) ?? [];
      const current = this.#owned.get(workload);
      const selector = stableSelector(pods);
      if (pods.length > 0 && selector === null) {
        this.#report(workload, { kind: 'no-selector', detail: `the Pods of ${workload} share no stable label to select them by` });
        continue;
      }
      const namespace = workload.slice(0, workload.indexOf('/'));
      const overlap = selector ? world.kube.pods.find((p) => p.namespace === namespace && `${p.namespace}/${p.workload.name}` !== workload && selects(selector, p.labels)) : undefined;
      if (overlap) {
        this.#report(workload, { kind: 'selector-overlap', detail: `selector ${JSON.stringify(selector)} of ${workload} also matches Pod ${overlap.namespace}/${overlap.name}; not written` });
        continue;
      }
      const res = desiredSidecar({
        workload: { namespace, name: workload.slice(namespace.length + 1), kind: pods[0]?.workload.kind ?? current?.workloadKind ?? 'Unknown', selector },
        current,
        observed: this.#deps.recorder.lastSeenMap(workload),
        now,
        policy: this.#policy,
        sweep,
        deletionBudget,
      });
      if (!res.ok) {
        this.#report(workload, { kind: 'no-selector', detail: `no Pods of ${workload} are known; nothing to select` });
        continue;
      }
      deletionBudget -= res.removed.length;
      if (res.overCap.length > 0) {
        this.#report(workload, { kind: 'over-cap', detail: `${res.overCap.length} observed hosts not added: Sidecar is at sidecars.maxHosts (${this.#policy.maxHosts})`, hosts: res.overCap });
      } else this.#problems.delete(workload);
      const object = renderSidecar(res.sidecar);
      if (current && sameObject(renderSidecar(current), object)) continue;
      try {
        validateSidecar(object);
      } catch (err) {
        this.#report(workload, { kind: 'invalid', detail: `generated Sidecar fails Istio's schema: ${errorMessage(err)}` });
        continue;
      }
      const summary = { created: !current, added: res.added, removed: res.removed, marked: res.marked, renewed: res.renewed };
      changes.push({ key: workload, next: res.sidecar, object, summary });
    }
    return changes;
  }

  #namespaceChanges(now: number): Change[] {
    this.#nsDirty = false;
    const world = this.#deps.ctx.world.current;
    const root = this.#deps.ctx.config.istioRootNamespace;
    const changes: Change[] = [];
    for (const ns of [...world.kube.namespaces].sort()) {
      if (ns === root) continue; // a selector-less Sidecar there would become the mesh-wide default
      const key = `ns:${ns}`;
      const current = this.#nsDefaults.get(ns);
      const user = world.kube.sidecars.find((s) => !s.managed && s.namespace === ns && (s.selector === null || Object.keys(s.selector).length === 0));
      if (user) {
        // Two selector-less Sidecars in a namespace is undefined in Istio: ours (which holds no observed host) yields.
        this.#report(key, { kind: 'conflict', detail: `namespace-wide Sidecar ${sidecarName(user)} exists; no namespace default written` });
        if (current) changes.push({ key, next: null, object: null, summary: { deleted: true, reason: 'user namespace-wide Sidecar' } });
        continue;
      }
      this.#problems.delete(key);
      const next = namespaceDefaultSidecar(ns, NAMESPACE_DEFAULT_NAME, this.#policy.defaults, current, now);
      const object = renderSidecar(next);
      if (current && sameObject(renderSidecar(current), object)) continue;
      validateSidecar(object);
      changes.push({ key, next, object, summary: { created: !current, namespaceDefault: true } });
    }
    return changes;
  }

  #report(key: string, p: Problem): void {
    const prev = this.#problems.get(key);
    this.#problems.set(key, p);
    if (prev?.detail !== p.detail) this.#log.warn({ sidecar: key, problem: p.kind }, p.detail);
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
      problems: [...this.#problems].slice(0, 100).map(([k, p]) => ({ sidecar: k, ...p })),
    };
  }
}

const EMPTY_RESULT = { applied: [] as string[], failed: [] as Array<{ key: string; error: string }> };

function failAll(changes: readonly Change[], err: unknown) {
  return { applied: [] as string[], failed: changes.map((c) => ({ key: c.key, error: errorMessage(err) })) };
}

function refOf(key: string): { namespace: string; name: string } {
  return { namespace: key.slice(3), name: NAMESPACE_DEFAULT_NAME };
}

function sidecarKeyOfRef(key: string): string {
  const r = refOf(key);
  return `${r.namespace}/${r.name}`;
}
