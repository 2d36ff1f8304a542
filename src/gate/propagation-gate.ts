// The gate with Sidecar scoping on: a (caller workload, target) pair is 'ready' only once the
// managed Sidecar listing the target was written AND the propagation delay (istiod's debounce and
// push) has passed. Readiness flips on a timer that also stamps a fresh index and publishes the
// workload's Pod IPs, so blocking queries wake with a higher X-Consul-Index and see the ClusterIP.
// When a user-owned Sidecar applies to the workload, its hosts are the truth (and ours too, if one
// was written before the conflict: Istio's choice between two is undefined, so both must list it).

import type { GateState } from '../decision/decide.ts';
import type { Clock, Timer } from '../platform/clock.ts';
import type { ChangeBus, IndexClock } from '../world/changes.ts';
import { egressImports, formatEgressHost } from '../world/istio-hosts.ts';
import { sameLabels, selects } from '../world/labels.ts';
import type { WorldStore } from '../world/store.ts';
import { ConflictIndex, sidecarName } from '../world/user-sidecars.ts';
import type { Caller, MeshTarget } from '../world/world.ts';
import type { SidecarGate } from './gate.ts';

/** What the gate needs of a Sidecar the reconciler has written. */
export interface WrittenSidecar {
  readonly namespace: string;
  readonly name: string;
  readonly selector: Readonly<Record<string, string>> | null;
  /** When the current workloadSelector was first written. */
  readonly selectorWrittenAt: number;
  /** Configured hosts (istio-system/* …). */
  readonly defaults: readonly string[];
  /** Observed hosts and when each was first written. */
  readonly hosts: ReadonlyMap<string, { readonly writtenAt: number }>;
}

function egressHostsOf(s: WrittenSidecar): Set<string> {
  return new Set([...s.defaults, ...s.hosts.keys()]);
}

interface HostEntry {
  readonly writtenAt: number;
  ready: boolean;
  readyAt: number | null;
  stamp: number;
}

/** What the gate knows of one workload's managed Sidecar. */
interface WorkloadState {
  sidecar: WrittenSidecar;
  selectorReady: boolean;
  /** Pods the previous selector matched stay served while a new selector propagates. */
  prevSelector: Readonly<Record<string, string>> | null;
  stamp: number;
  readonly entries: Map<string, HostEntry>;
  readonly defaults: Set<string>;
  readonly timers: Set<Timer>;
}

export interface GateDeps {
  readonly world: WorldStore;
  readonly indexClock: IndexClock;
  readonly bus: ChangeBus;
  readonly clock: Clock;
  readonly propagationDelayMs: number;
}

/** Hosts of a workload just became ready (metrics: time from first lookup to ready). */
export type ReadyListener = (workload: string, hosts: readonly string[], at: number) => void;

export function hostOf(target: MeshTarget): string | null {
  return target.namespace && target.fqdn ? formatEgressHost(target.namespace, target.fqdn) : null;
}

export class PropagationGate implements SidecarGate {
  readonly #deps: GateDeps;
  readonly #workloads = new Map<string, WorkloadState>();
  readonly #conflicts = new ConflictIndex();
  readonly #readyListeners = new Set<ReadyListener>();
  /** True while this gate publishes, so the reconciler can ignore its own change sets. */
  publishing = false;

  constructor(deps: GateDeps) {
    this.#deps = deps;
  }

  state(caller: Caller, target: MeshTarget): GateState {
    const users = this.#conflicts.for(this.#deps.world.current, caller.workload);
    const own = this.#ownReady(caller, target);
    if (users.length > 0) {
      const userOk = target.namespace !== undefined && target.fqdn !== undefined && users.every((s) => egressImports(s.egressHosts, s.namespace, target.namespace!, target.fqdn!));
      const ownOk = !this.#workloads.has(caller.workload) || own;
      return userOk && ownOk ? 'ready' : 'pending';
    }
    return own ? 'ready' : 'pending';
  }

  #ownReady(caller: Caller, target: MeshTarget): boolean {
    const ws = this.#workloads.get(caller.workload);
    const host = hostOf(target);
    if (!ws || !host) return false;
    if (!selects(ws.sidecar.selector, caller.pod.labels)) return false;
    if (!ws.selectorReady && !selects(ws.prevSelector, caller.pod.labels)) return false;
    if (ws.entries.get(host)?.ready) return true;
    for (const d of ws.defaults) {
      if (ws.entries.get(d)?.ready && egressImports([d], ws.sidecar.namespace, target.namespace!, target.fqdn!)) return true;
    }
    return false;
  }

  index(caller: Caller, service: string): number {
    const ws = this.#workloads.get(caller.workload);
    if (!ws) return 0;
    const target = this.#deps.world.current.targets.get(service);
    const host = target ? hostOf(target) : null;
    const entry = host ? ws.entries.get(host) : undefined;
    return Math.max(ws.stamp, entry?.stamp ?? 0);
  }

  describe(caller: Caller, service: string): Record<string, unknown> {
    const target = this.#deps.world.current.targets.get(service);
    const host = target ? hostOf(target) : null;
    const ws = this.#workloads.get(caller.workload);
    const users = this.#conflicts.for(this.#deps.world.current, caller.workload);
    const entry = host ? ws?.entries.get(host) : undefined;
    return {
      scoping: 'managed',
      workload: caller.workload,
      host,
      sidecar: ws ? `${ws.sidecar.namespace}/${ws.sidecar.name}` : null,
      podSelected: ws ? selects(ws.sidecar.selector, caller.pod.labels) : false,
      selectorPropagated: ws?.selectorReady ?? false,
      writtenAt: entry ? new Date(entry.writtenAt).toISOString() : null,
      readyAt: entry?.readyAt ? new Date(entry.readyAt).toISOString() : null,
      conflict: users.length > 0 ? users.map(sidecarName) : null,
      gate: target?.status === 'meshed' ? this.state(caller, target) : 'off',
      index: this.index(caller, service),
    };
  }

  /** Restore after a restart: anything written at least the propagation delay ago is ready at once. */
  restore(workload: string, sidecar: WrittenSidecar, now: number): void {
    const ws = this.#newState(sidecar);
    const delay = this.#deps.propagationDelayMs;
    ws.selectorReady = sidecar.selectorWrittenAt + delay <= now;
    const late: string[] = [];
    for (const h of egressHostsOf(sidecar)) {
      const writtenAt = sidecar.hosts.get(h)?.writtenAt ?? sidecar.selectorWrittenAt;
      const ready = writtenAt + delay <= now;
      ws.entries.set(h, { writtenAt, ready, readyAt: ready ? writtenAt + delay : null, stamp: 0 });
      if (!ready) late.push(h);
    }
    this.#workloads.set(workload, ws);
    if (late.length > 0 || !ws.selectorReady) {
      const latest = Math.max(sidecar.selectorWrittenAt, ...late.map((h) => ws.entries.get(h)!.writtenAt));
      this.#schedule(workload, ws, late, latest + delay - now);
    }
  }

  /** The sink now holds `sidecar` (write completed at `at`): start the propagation delay for what is new. */
  written(workload: string, sidecar: WrittenSidecar, at: number): void {
    const old = this.#workloads.get(workload);
    const ws = old ?? this.#newState(sidecar);
    const fresh: string[] = [];
    const hosts = egressHostsOf(sidecar);
    const gone = [...ws.entries.keys()].filter((h) => !hosts.has(h));
    for (const h of gone) ws.entries.delete(h);
    for (const h of hosts) {
      if (ws.entries.has(h)) continue;
      ws.entries.set(h, { writtenAt: at, ready: false, readyAt: null, stamp: 0 });
      fresh.push(h);
    }
    ws.defaults.clear();
    for (const d of sidecar.defaults) ws.defaults.add(d);
    let selectorChanged = false;
    if (old && !sameLabels(old.sidecar.selector, sidecar.selector)) {
      ws.prevSelector = ws.selectorReady ? old.sidecar.selector : ws.prevSelector;
      ws.selectorReady = false;
      selectorChanged = true;
    } else if (!old) {
      ws.selectorReady = false;
    }
    ws.sidecar = sidecar;
    this.#workloads.set(workload, ws);
    if (gone.length > 0 || selectorChanged) {
      // Hosts removed by expiry, or Pods no longer selected: their answers change back now.
      ws.stamp = this.#deps.indexClock.next();
      this.#publish(workload);
    }
    if (fresh.length > 0 || !ws.selectorReady) this.#schedule(workload, ws, fresh, this.#deps.propagationDelayMs);
  }

  /** Stamp one index for everything restored ready and wake anyone who asked before start() finished. */
  announceRestored(workloads: readonly string[]): void {
    if (workloads.length === 0) return;
    const stamp = this.#deps.indexClock.next();
    for (const w of workloads) {
      const s = this.#workloads.get(w);
      if (s) s.stamp = Math.max(s.stamp, stamp);
    }
    this.#publish(...workloads);
  }

  #newState(sidecar: WrittenSidecar): WorkloadState {
    return { sidecar, selectorReady: false, prevSelector: null, stamp: 0, entries: new Map(), defaults: new Set(sidecar.defaults), timers: new Set() };
  }

  #schedule(workload: string, ws: WorkloadState, hosts: readonly string[], delayMs: number): void {
    const fire = () => {
      if (this.#workloads.get(workload) !== ws) return;
      const at = this.#deps.clock.now();
      const stamp = this.#deps.indexClock.next();
      const flipped: string[] = [];
      for (const h of hosts) {
        const e = ws.entries.get(h);
        if (e && !e.ready) {
          e.ready = true;
          e.readyAt = at;
          e.stamp = stamp;
          flipped.push(h);
        }
      }
      if (!ws.selectorReady) {
        ws.selectorReady = true;
        ws.prevSelector = null;
        ws.stamp = stamp;
      }
      this.#publish(workload);
      if (flipped.length > 0) for (const l of this.#readyListeners) l(workload, flipped, at);
    };
    if (delayMs <= 0) return fire();
    const timer = this.#deps.clock.setTimer(delayMs, () => {
      ws.timers.delete(timer);
      fire();
    });
    ws.timers.add(timer);
  }

  #publish(...workloads: string[]): void {
    const callers = new Set<string>();
    for (const w of workloads) for (const p of this.#deps.world.current.podsByWorkload.get(w) ?? []) for (const ip of p.ips) callers.add(ip);
    this.publishing = true;
    try {
      this.#deps.bus.publish({ all: false, services: new Set(), callers });
    } finally {
      this.publishing = false;
    }
  }

  onReady(listener: ReadyListener): () => void {
    this.#readyListeners.add(listener);
    return () => this.#readyListeners.delete(listener);
  }

  isReady(workload: string, host: string): boolean {
    return this.#workloads.get(workload)?.entries.get(host)?.ready ?? false;
  }

  stop(): void {
    for (const s of this.#workloads.values()) for (const t of s.timers) t.cancel();
  }
}
