// Sidecar scoping, assembled: observer (lookups in) -> recorder -> reconciler -> sink. What the
// reconciler writes opens the Sidecar gate (src/gate), which lookups read: the one edge against the
// data flow (docs/architecture.md).

import { hostOf, type PropagationGate } from '../gate/propagation-gate.ts';
import type { Core } from '../lookup/core.ts';
import type { LookupObserver, Observation } from '../lookup/lookup.ts';
import { compareStrings } from '../platform/compare.ts';
import { sidecarKey, type SidecarSink } from '../sinks/sidecar-sink.ts';
import { ConflictIndex } from '../world/user-sidecars.ts';
import type { Caller } from '../world/world.ts';
import { egressHostsOf, renderSidecar } from './managed-sidecar.ts';
import { scopingMetrics } from './metrics.ts';
import { ObservationRecorder } from './observations.ts';
import { Reconciler, type SharedSink } from './reconciler.ts';

/** What scoping reads of the core: everything but the lookups, which it observes. */
export type ScopingCore = Omit<Core, 'lookups'>;

export interface SidecarScoping {
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

/** `shared`: several replicas write the same sink (live mode); null: this process is the only writer. */
export function createSidecarScoping(ctx: ScopingCore, sink: SidecarSink, gate: PropagationGate, shared: SharedSink | null = null): SidecarScoping {
  const clock = ctx.clock;
  const config = ctx.config.sidecars;
  const recorder = new ObservationRecorder({ maxWorkloads: 100_000, maxHostsPerWorkload: Math.max(100, 2 * config.maxHosts) });
  const conflicts = new ConflictIndex();
  let reconciler: Reconciler | null = null;

  const pendingPairs = () => {
    let n = 0;
    for (const w of recorder.workloads()) {
      if (reconciler?.problems().forWorkload(w)?.kind === 'conflict') continue;
      for (const h of recorder.hosts(w).keys()) if (!gate.isReady(w, h)) n++;
    }
    return n;
  };
  const metrics = scopingMetrics(ctx.registry, {
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

  gate.onReady((workload, hosts, at) => {
    for (const h of hosts) {
      const o = recorder.get(workload, h);
      // Only pairs first seen by this process: a restored host has no meaningful first lookup.
      if (o && o.services.size > 0) metrics.timeToReady.observe(Math.max(0, at - o.firstSeen) / 1000);
    }
  });
  const rec = new Reconciler({ ctx, sink, clock, recorder, gate, conflicts, metrics, config, shared });
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
    observer,
    start: () => rec.start(),
    async stop() {
      await rec.stop();
    },
    managedSidecars: () =>
      [...rec.owned().values(), ...rec.namespaceDefaults().values()]
        .map(renderSidecar)
        .sort((a, b) => compareStrings(sidecarKey(a), sidecarKey(b))),
    explainPair(caller, service) {
      const key = service.toLowerCase();
      const target = ctx.world.current.targets.get(key);
      const host = target ? hostOf(target) : null;
      const seen = host ? recorder.get(caller.workload, host) : undefined;
      const inSidecar = host ? (rec.owned().get(caller.workload)?.hosts.get(host) ?? null) : null;
      return {
        ...gate.describe(caller, key),
        observed: seen ? { firstSeen: new Date(seen.firstSeen).toISOString(), lastSeen: new Date(seen.lastSeen).toISOString(), services: [...seen.services].sort(compareStrings) } : null,
        inSidecar: inSidecar ? { writtenAt: new Date(inSidecar.writtenAt).toISOString(), expiring: inSidecar.expiring ? new Date(inSidecar.expiring).toISOString() : null } : null,
        problem: rec.problems().forWorkload(caller.workload) ?? null,
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
