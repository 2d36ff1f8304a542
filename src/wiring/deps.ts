// Chooses each part of the app from the configuration: the Consul part from a snapshot file or the
// upstream agent (consul-addr), the Kubernetes part from a snapshot file or the API server
// (kubeconfig, kube-in-cluster), in any mix. The Sidecar sink follows the Kubernetes part (the
// cluster when live, the state dir otherwise) and the control state follows the Consul part (its
// KV when live, shared by every replica; the state dir otherwise).

import { collectDefaultMetrics, Registry } from 'prom-client';
import type { DiscoveryConfig } from '../config/config.ts';
import { ServicePopularity } from '../lookup/service-popularity.ts';
import { systemClock } from '../platform/clock.ts';
import type { Logger } from '../platform/log.ts';
import { FileSidecarSink } from '../sinks/file-sidecar-sink.ts';
import type { WorldSource } from '../sources/feed.ts';
import type { AppDeps, AppPart } from '../app.ts';
import { consulToken } from './consul-token.ts';
import { consulSnapshotPart, fileControl, kubeSnapshotPart } from './embedded.ts';
import { kubeConfigFor, kubeServer } from './kube-config.ts';
import { liveConsul } from './live-consul.ts';
import { liveKube } from './live-kube.ts';

export async function appDeps(config: DiscoveryConfig, log: Logger, env: Readonly<Record<string, string | undefined>>): Promise<AppDeps> {
  const clock = systemClock;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const parts: AppPart[] = [];
  const sources: WorldSource[] = [];

  const popularity = new ServicePopularity({ clock });
  const consul = config.consulAddr ? liveConsul(config, { url: config.consulAddr, token: await consulToken(config, env), clock, log, registry, popularity }) : null;
  if (consul) {
    sources.push(consul.source);
    parts.push(consul.part);
  } else {
    const snapshot = consulSnapshotPart(config);
    if (snapshot) sources.push(snapshot);
  }

  const kubeConfig = kubeConfigFor(config, env);
  const kube = kubeConfig ? liveKube(config, { kubeConfig, clock, log, registry }) : null;
  if (kube) {
    sources.push(kube.source);
    parts.push(...kube.parts);
  } else {
    const snapshot = kubeSnapshotPart(config, log);
    if (snapshot) sources.push(snapshot);
  }

  log.info(
    {
      consul: consul ? `live ${config.consulAddr}` : (config.consulSnapshot ?? 'none'),
      kube: kubeConfig ? `live ${kubeServer(kubeConfig)}` : (config.kubeSnapshot ?? 'none'),
      control: consul ? `consul kv ${config.controlKey}` : 'state dir',
      replica: config.replicaId,
    },
    'parts chosen',
  );
  return {
    log,
    clock,
    registry,
    sources,
    sidecarSink: kube ? kube.sink : new FileSidecarSink(config.stateDir),
    control: consul ? consul.control : fileControl(config),
    ...(consul ? { http: { upstream: consul.upstream }, popularity } : {}),
    ...(kube?.elector ? { sharedSink: kube.elector } : {}),
    parts,
  };
}
