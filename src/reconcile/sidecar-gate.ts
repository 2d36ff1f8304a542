// Invariant 2 with Sidecar scoping on: a (caller workload, target) pair is 'ready' only once the
// managed Sidecar listing the target was written AND the propagation delay (istiod's debounce and
// push) has passed. Readiness flips on a timer that also stamps a fresh index and publishes the
// workload's Pod IPs, so blocking queries wake with a higher X-Consul-Index and see the ClusterIP.
// When a user-owned Sidecar applies to the workload, its hosts are the truth (and ours too, if one
// was written before the conflict: Istio's choice between two is undefined, so both must list it).

import type { SidecarGate } from '../decision/decide.ts';
import type { SidecarGateView } from '../lookup/sidecar-gate.ts';
import type { Clock, Timer } from '../platform/clock.ts';
import type { ChangeBus, IndexClock } from '../world/changes.ts';
import { egressImports, formatEgressHost } from '../world/istio-hosts.ts';
import type { WorldStore } from '../world/store.ts';
import type { Caller, MeshTarget } from '../world/world.ts';
import type { ConflictIndex } from './conflicts.ts';
import { sidecarName } from './conflicts.ts';
import type { ManagedSidecar } from './managed-sidecar.ts';
import { egressHostsOf } from './managed-sidecar.ts';
import { sameLabels, selects } from './workload-labels.ts';

interface Entry {
  readonly writtenAt: number;
  ready: boolean;
  readyAt: number | null;
  stamp: number;
}

interface Scope {
  sidecar: ManagedSidecar;
  selectorReady: boolean;
  /** Pods the previous selector matched stay served while a new selector propagates. */
  prevSelector: Readonly<Record<string, string>> | null;
  stamp: number;
  readonly entries: Map<string, Entry>;
  readonly defaults: Set<string>;
  readonly timers: Set<Timer>;
}

export interface GateDeps {
  readonly world: WorldStore;
  readonly indexClock: IndexClock;
  readonly bus: ChangeBus;
  readonly clock: Clock;
  readonly propagationDelayMs: number;
  readonly conflicts: ConflictIndex;
  /** Called when hosts of a workload become ready (metrics: time from first lookup to ready). */
  readonly onReady?: (workload: string, hosts: readonly string[], at: number) => void;
}

export function hostOf(target: MeshTarget): string | null {
  return target.namespace && target.fqdn ? formatEgressHost(target.namespace, target.fqdn) : null;
}

export class ScopingGate implements SidecarGateView {
  readonly #d: GateDeps;
  readonly #scopes = new Map<string, Scope>();
  /** True while this gate publishes, so the reconciler can ignore its own change sets. */
  publishing = false;

  constructor(deps: GateDeps) {
    this.#d = deps;
  }

  gate(caller: Caller, target: MeshTarget): SidecarGate {
    const users = this.#d.conflicts.for(this.#d.world.world, caller.workload);
    const own = this.#ownReady(caller, target);
    if (users.length > 0) {
      const userOk = target.namespace !== undefined && target.fqdn !== undefined && users.every((s) => egressImports(s.egressHosts, s.namespace, target.namespace!, target.fqdn!));
      const ownOk = !this.#scopes.has(caller.workload) || own;
      return userOk && ownOk ? 'ready' : 'pending';
    }
    return own ? 'ready' : 'pending';
  }

  #ownReady(caller: Caller, target: MeshTarget): boolean {
    const scope = this.#scopes.get(caller.workload);
    const host = hostOf(target);
    if (!scope || !host) return false;
    if (!selects(scope.sidecar.selector, caller.pod.labels)) return false;
    if (!scope.selectorReady && !selects(scope.prevSelector, caller.pod.labels)) return false;
    if (scope.entries.get(host)?.ready) return true;
    for (const d of scope.defaults) {
      if (scope.entries.get(d)?.ready && egressImports([d], scope.sidecar.namespace, target.namespace!, target.fqdn!)) return true;
    }
    return false;
  }

  index(caller: Caller, service: string): number {
    const scope = this.#scopes.get(caller.workload);
    if (!scope) return 0;
    const target = this.#d.world.world.targets.get(service);
    const host = target ? hostOf(target) : null;
    const entry = host ? scope.entries.get(host) : undefined;
    return Math.max(scope.stamp, entry?.stamp ?? 0);
  }

  describe(caller: Caller, service: string): Record<string, unknown> {
    const target = this.#d.world.world.targets.get(service);
    const host = target ? hostOf(target) : null;
    const scope = this.#scopes.get(caller.workload);
    const users = this.#d.conflicts.for(this.#d.world.world, caller.workload);
    const entry = host ? scope?.entries.get(host) : undefined;
    return {
      scoping: 'managed',
      workload: caller.workload,
      host,
      sidecar: scope ? `${scope.sidecar.namespace}/${scope.sidecar.name}` : null,
      podSelected: scope ? selects(scope.sidecar.selector, caller.pod.labels) : false,
      selectorPropagated: scope?.selectorReady ?? false,
      writtenAt: entry ? new Date(entry.writtenAt).toISOString() : null,
      readyAt: entry?.readyAt ? new Date(entry.readyAt).toISOString() : null,
      conflict: users.length > 0 ? users.map(sidecarName) : null,
      gate: target?.status === 'meshed' ? this.gate(caller, target) : 'off',
      index: this.index(caller, service),
    };
  }

  /** Restore after a restart: anything written at least the propagation delay ago is ready at once. */
  restore(workload: string, sidecar: ManagedSidecar, now: number): void {
    const scope = this.#newScope(sidecar);
    const delay = this.#d.propagationDelayMs;
    scope.selectorReady = sidecar.selectorWrittenAt + delay <= now;
    const late: string[] = [];
    for (const h of egressHostsOf(sidecar)) {
      const writtenAt = sidecar.hosts.get(h)?.writtenAt ?? sidecar.selectorWrittenAt;
      const ready = writtenAt + delay <= now;
      scope.entries.set(h, { writtenAt, ready, readyAt: ready ? writtenAt + delay : null, stamp: 0 });
      if (!ready) late.push(h);
    }
    this.#scopes.set(workload, scope);
    if (late.length > 0 || !scope.selectorReady) {
      const latest = Math.max(sidecar.selectorWrittenAt, ...late.map((h) => scope.entries.get(h)!.writtenAt));
      this.#schedule(workload, scope, late, latest + delay - now);
    }
  }

  /** The sink now holds `sidecar` (write completed at `at`): start the propagation delay for what is new. */
  written(workload: string, sidecar: ManagedSidecar, at: number): void {
    const old = this.#scopes.get(workload);
    const scope = old ?? this.#newScope(sidecar);
    const fresh: string[] = [];
    const hosts = new Set(egressHostsOf(sidecar));
    const gone = [...scope.entries.keys()].filter((h) => !hosts.has(h));
    for (const h of gone) scope.entries.delete(h);
    for (const h of hosts) {
      if (scope.entries.has(h)) continue;
      scope.entries.set(h, { writtenAt: at, ready: false, readyAt: null, stamp: 0 });
      fresh.push(h);
    }
    scope.defaults.clear();
    for (const d of sidecar.defaults) scope.defaults.add(d);
    let selectorChanged = false;
    if (old && !sameLabels(old.sidecar.selector, sidecar.selector)) {
      scope.prevSelector = scope.selectorReady ? old.sidecar.selector : scope.prevSelector;
      scope.selectorReady = false;
      selectorChanged = true;
    } else if (!old) {
      scope.selectorReady = false;
    }
    scope.sidecar = sidecar;
    this.#scopes.set(workload, scope);
    if (gone.length > 0 || selectorChanged) {
      // Hosts removed by expiry, or Pods no longer selected: their answers change back now.
      scope.stamp = this.#d.indexClock.next();
      this.#publish(workload);
    }
    if (fresh.length > 0 || !scope.selectorReady) this.#schedule(workload, scope, fresh, this.#d.propagationDelayMs);
  }

  /** Stamp one index for everything restored ready and wake anyone who asked before start() finished. */
  announceRestored(workloads: readonly string[]): void {
    if (workloads.length === 0) return;
    const stamp = this.#d.indexClock.next();
    for (const w of workloads) {
      const s = this.#scopes.get(w);
      if (s) s.stamp = Math.max(s.stamp, stamp);
    }
    this.#publish(...workloads);
  }

  #newScope(sidecar: ManagedSidecar): Scope {
    return { sidecar, selectorReady: false, prevSelector: null, stamp: 0, entries: new Map(), defaults: new Set(sidecar.defaults), timers: new Set() };
  }

  #schedule(workload: string, scope: Scope, hosts: readonly string[], delayMs: number): void {
    const fire = () => {
      if (this.#scopes.get(workload) !== scope) return;
      const at = this.#d.clock.now();
      const stamp = this.#d.indexClock.next();
      const flipped: string[] = [];
      for (const h of hosts) {
        const e = scope.entries.get(h);
        if (e && !e.ready) {
          e.ready = true;
          e.readyAt = at;
          e.stamp = stamp;
          flipped.push(h);
        }
      }
      if (!scope.selectorReady) {
        scope.selectorReady = true;
        scope.prevSelector = null;
        scope.stamp = stamp;
      }
      this.#publish(workload);
      if (flipped.length > 0) this.#d.onReady?.(workload, flipped, at);
    };
    if (delayMs <= 0) return fire();
    const timer = this.#d.clock.setTimer(delayMs, () => {
      scope.timers.delete(timer);
      fire();
    });
    scope.timers.add(timer);
  }

  #publish(...workloads: string[]): void {
    const callers = new Set<string>();
    for (const w of workloads) for (const p of this.#d.world.world.podsByWorkload.get(w) ?? []) for (const ip of p.ips) callers.add(ip);
    this.publishing = true;
    try {
      this.#d.bus.publish({ all: false, services: new Set(), callers });
    } finally {
      this.publishing = false;
    }
  }

  isReady(workload: string, host: string): boolean {
    return this.#scopes.get(workload)?.entries.get(host)?.ready ?? false;
  }

  readyAt(workload: string, host: string): number | null {
    return this.#scopes.get(workload)?.entries.get(host)?.readyAt ?? null;
  }

  stop(): void {
    for (const s of this.#scopes.values()) for (const t of s.timers) t.cancel();
  }
}
