// The Sidecar reconciler's metrics, declared in one place. Registered into the shared registry;
// re-used when already there (a second scoping instance in tests shares the names).

import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';

export interface ScopingSnapshot {
  managed(): number;
  hostStats(): { max: number; total: number };
  conflicts(): number;
  pendingPairs(): number;
  overCap(): number;
}

export interface ScopingMetrics {
  readonly writes: Counter<'mode'>;
  readonly writeErrors: Counter;
  readonly observationsDropped: Counter;
  readonly hostsRemoved: Counter;
  readonly timeToReady: Histogram;
}

function getOr<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function scopingMetrics(registry: Registry, snap: ScopingSnapshot): ScopingMetrics {
  const registers = [registry];
  const gauge = (name: string, help: string, read: (g: Gauge) => void) =>
    getOr(registry, name, () => new Gauge({ name, help, registers, collect() { read(this); } }));
  gauge('discovery_sidecars_managed', 'Sidecars Discovery manages (per-workload and namespace defaults), as held by the sink.', (g) => g.set(snap.managed()));
  gauge('discovery_sidecar_hosts_max', 'Most egress hosts in one managed Sidecar.', (g) => g.set(snap.hostStats().max));
  gauge('discovery_sidecar_hosts_total', 'Egress hosts over all managed Sidecars (divide by discovery_sidecars_managed for the mean).', (g) => g.set(snap.hostStats().total));
  gauge('discovery_sidecar_conflicts', 'Workloads a user-owned Sidecar applies to: Discovery writes none for them.', (g) => g.set(snap.conflicts()));
  gauge('discovery_sidecar_pending_pairs', 'Observed (caller workload, target) pairs not yet ready: answered with HAProxy (sidecar-pending).', (g) => g.set(snap.pendingPairs()));
  gauge('discovery_sidecar_over_cap', 'Workloads with observed hosts left out because their Sidecar is at sidecars.maxHosts.', (g) => g.set(snap.overCap()));
  return {
    writes: getOr(registry, 'discovery_sidecar_writes_total', () => new Counter({ name: 'discovery_sidecar_writes_total', help: 'Sidecar writes by mode: applied to the sink, or dry-run (kill-switch or shadow: logged, not written).', labelNames: ['mode'], registers })),
    writeErrors: getOr(registry, 'discovery_sidecar_write_errors_total', () => new Counter({ name: 'discovery_sidecar_write_errors_total', help: 'Sidecar writes the sink rejected or failed (retried later), and failed read-backs.', registers })),
    observationsDropped: getOr(registry, 'discovery_sidecar_observations_dropped_total', () => new Counter({ name: 'discovery_sidecar_observations_dropped_total', help: 'Lookups not recorded because the observation recorder was full.', registers })),
    hostsRemoved: getOr(registry, 'discovery_sidecar_hosts_expired_total', () => new Counter({ name: 'discovery_sidecar_hosts_expired_total', help: 'Hosts removed from managed Sidecars by the configured expiry.', registers })),
    timeToReady: getOr(registry, 'discovery_sidecar_time_to_ready_seconds', () => new Histogram({ name: 'discovery_sidecar_time_to_ready_seconds', help: 'From the first lookup of a target by a workload to the pair being ready (ClusterIP served).', buckets: [0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60, 120], registers })),
  };
}
