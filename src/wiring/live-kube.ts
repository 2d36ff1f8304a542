// Live mode's Kubernetes parts on one cluster connection: the informer source, the Sidecar sink
// writing into the cluster (read-modify-write merge, docs/adr/0009-sidecar-merge-by-read-modify-write.md)
// and the Lease elector that decides which replica alone removes hosts and Sidecars.

import type { KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { DiscoveryConfig } from '../config/config.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/log.ts';
import { KubeSidecarSink } from '../sinks/kubernetes/kube-sidecar-sink.ts';
import { LeaseElector } from '../sinks/kubernetes/lease-elector.ts';
import type { WorldSource } from '../sources/feed.ts';
import { KubeLiveSource } from '../sources/kube-live/index.ts';
import type { AppPart } from '../app.ts';

export interface LiveKube {
  readonly source: WorldSource;
  readonly sink: KubeSidecarSink;
  /** null when Sidecar scoping is off (nothing is written, nobody needs to lead). */
  readonly elector: LeaseElector | null;
  readonly parts: readonly AppPart[];
}

export interface LiveKubeDeps {
  readonly kubeConfig: KubeConfig;
  readonly clock: Clock;
  readonly log: Logger;
  readonly registry: Registry;
}

export function liveKube(config: DiscoveryConfig, deps: LiveKubeDeps): LiveKube {
  const { kubeConfig, clock, log, registry } = deps;
  const source = new KubeLiveSource({ kubeConfig, clock, log, registry, staleAfterMs: config.kubeStaleAfterMs });
  const sink = new KubeSidecarSink({ kubeConfig, log, registry, clock });
  if (!config.sidecars.enabled) return { source: { part: 'kube', source }, sink, elector: null, parts: [] };
  const elector = new LeaseElector({ kubeConfig, namespace: config.namespace, identity: config.replicaId, leaseDurationMs: config.live.leaseDurationMs, clock, log, registry });
  const part: AppPart = {
    name: 'lease',
    start: (signal) => elector.start(signal),
    stopped: () => elector.whenStopped(),
    status: () => elector.status(),
  };
  return { source: { part: 'kube', source }, sink, elector, parts: [part] };
}
