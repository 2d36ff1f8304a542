// Sidecar scoping, assembled: observer (lookups in) -> recorder -> reconciler -> sink, and the gate
// that holds back ClusterIP answers until the caller's Sidecar lists the target and has propagated.
// The lead wires `gate` and `observer` into Lookups when config.sidecars.enabled.

import type { AppContext } from '../app-context.ts';
import type { LookupObserver, Observation } from '../lookup/lookup.ts';
import type { SidecarGateView } from '../lookup/sidecar-gate.ts';
import { ObservationRecorder } from '../observe/recorder.ts';
import type { Clock } from '../platform/clock.ts';
import { systemClock } from '../platform/clock.ts';
import type { SidecarSink } from '../sinks/sidecar-sink.ts';
import type { Caller } from '../world/world.ts';
import { ConflictIndex } from './conflicts.ts';
import { egressHostsOf, renderSidecar } from './managed-sidecar.ts';
import { scopingMetrics } from './metrics.ts';
import { Reconciler } from './reconciler.ts';
import { ScopingGate, hostOf } from './sidecar-gate.ts';

export interface SidecarScoping {
  readonly gate: SidecarGateView;
  readonly observer: LookupObserver;
  /** Reads back what the sink holds first (restoring ready pairs), then starts reconciling. */
  start(): Promise<void>;
  /** Writes what is pending (unless dry-run), then stops every timer. */
  stop(): Promise<void>;
  /** Managed Sidecars as `kubectl get -o yaml` would print them, sorted by namespace/name. */
  managedSidecars(): object[];
  explainPair(caller: Caller, service: string): Record<string, unknown>;
  status(): Record<string, unknown>;
  /** Run the debounced cycle now and wait for it (CLI, tests, benchmark). */
  flush(): Promise<void>;
  /** Wait until no reconcile cycle is running. */
  settled(): Promise<void>;
}

export async function createSidecarScoping(ctx: AppContext, sink: SidecarSink, opts: { clock?: Clock } = {}): Promise<SidecarScoping> {
  const clock = opts.clock ?? systemClock;
  const config = ctx.config.sidecars;
  const recorder = new ObservationRecorder({ maxWorkloads: 100_000, maxHostsPerWorkload: Math.max(100, 2 * config.maxHosts) });
  const conflicts = new ConflictIndex();
  let reconciler: Reconciler | null = null;

  const pendingPairs = () => {
    let n = 0;
    for (const w of recorder.workloads()) {
      if (reconciler?.problems().get(w)?.kind === 'conflict') continue;
      for (const h of recorder.hosts(w).keys()) if (!gate.isReady(w, h)) n++;
    }
    return n;
  };
  const metrics = scopingMetrics(ctx.metrics.registry, {
    managed: () => (reconciler ? reconciler.owned().size + reconciler.namespaceDefaults().size : 0),
    hostStats: () => {
      let max = 0;
      let total = 0;
      for (const s of reconciler?.owned().values() ?? []) {
        const n = egressHostsOf(s).length;
        max = Math.max(max, n);
        total += n;
      }
      return { max, total };
    },
    conflicts: () => [...(reconciler?.problems().values() ?? [])].filter((p) => p.kind === 'conflict').length,
    pendingPairs,
    overCap: () => [...(reconciler?.problems().values() ?? [])].filter((p) => p.kind === 'over-cap').length,
  });

  const gate = new ScopingGate({
    world: ctx.world,
    indexClock: ctx.clock,
    bus: ctx.bus,
    clock,
    propagationDelayMs: config.propagationDelayMs,
    conflicts,
    onReady: (workload, hosts, at) => {
      for (const h of hosts) {
        const o = recorder.get(workload, h);
        // Only pairs first seen by this process: a restored host has no meaningful first lookup.
        if (o && o.services.size > 0) metrics.timeToReady.observe(Math.max(0, at - o.firstSeen) / 1000);
      }
    },
  });
  const rec = new Reconciler({ ctx, sink, clock, recorder, gate, conflicts, metrics, config });
  reconciler = rec;

  const observer: LookupObserver = {
    observe(o: Observation) {
      const host = hostOf(o.target);
      if (!host) return;
      const at = clock.now();
      rec.noteObservation(o.caller.workload, host, recorder.record(o.caller.workload, host, o.service, at), at);
    },
  };

  return {
    gate,
    observer,
    start: () => rec.start(),
    async stop() {
      await rec.stop();
      gate.stop();
    },
    managedSidecars: () =>
      [...rec.owned().values(), ...rec.namespaceDefaults().values()]
        .map(renderSidecar)
        .sort((a, b) => (`${a.metadata.namespace}/${a.metadata.name}` < `${b.metadata.namespace}/${b.metadata.name}` ? -1 : 1)),
    explainPair(caller, service) {
      const key = service.toLowerCase();
      const target = ctx.world.world.targets.get(key);
      const host = target ? hostOf(target) : null;
      const seen = host ? recorder.get(caller.workload, host) : undefined;
      const inSidecar = host ? (rec.owned().get(caller.workload)?.hosts.get(host) ?? null) : null;
      return {
        ...gate.describe(caller, key),
        observed: seen ? { firstSeen: new Date(seen.firstSeen).toISOString(), lastSeen: new Date(seen.lastSeen).toISOString(), services: [...seen.services].sort() } : null,
        inSidecar: inSidecar ? { writtenAt: new Date(inSidecar.writtenAt).toISOString(), expiring: inSidecar.expiring ? new Date(inSidecar.expiring).toISOString() : null } : null,
        problem: rec.problems().get(caller.workload) ?? null,
        readBack: rec.readState,
        dryRun: ctx.control.mode !== 'hybrid',
      };
    },
    status: () => ({ ...rec.status(), observations: recorder.size, pendingPairs: pendingPairs(), propagationDelayMs: config.propagationDelayMs }),
    async flush() {
      await rec.settled();
      rec.requestFlush();
      await rec.settled();
    },
    settled: () => rec.settled(),
  };
}
