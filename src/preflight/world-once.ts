// The world as live mode would see it, built once: the upstream Consul source and the Kubernetes
// source are started as `discovery serve` starts them, each first complete version is taken, and
// both are stopped. The world model then reports its own problems (ambiguous mappings and ports),
// so preflight never re-implements the mapping.

import type { KubeConfig } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import type { DiscoveryConfig } from '../config/config.ts';
import { systemClock } from '../platform/clock.ts';
import type { Logger } from '../platform/log.ts';
import { ConsulUpstreamSource } from '../sources/consul-upstream/consul-upstream-source.ts';
import { KubeLiveSource } from '../sources/kube-live/index.ts';
import type { Source } from '../sources/source.ts';
import type { ConsulCatalog } from '../world/consul-types.ts';
import type { KubeSnapshot } from '../world/kube-types.ts';
import { buildWorld, type World } from '../world/world.ts';

/** The first version a source delivers, or the reason there was none within `timeoutMs`. */
async function firstVersion<T>(source: Source<T>, signal: AbortSignal, timeoutMs: number): Promise<T> {
  let lastError: string | null = null;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${source.name} delivered nothing within ${timeoutMs} ms${lastError ? ` (last error: ${lastError})` : ''}`)), timeoutMs);
    const settle = () => clearTimeout(timer);
    source
      .start(
        {
          data: (value) => {
            settle();
            resolve(value);
          },
          error: (err) => {
            lastError = err.message;
          },
          stale: () => undefined,
        },
        signal,
      )
      .catch((err: unknown) => {
        settle();
        reject(err instanceof Error ? err : new Error(String(err)));
      });
  });
}

export async function worldOnce(config: DiscoveryConfig, consul: { url: string; token: string | null }, kubeConfig: KubeConfig, log: Logger, timeoutMs: number): Promise<World> {
  const abort = new AbortController();
  const registry = new Registry();
  const clock = systemClock;
  try {
    const consulSource = new ConsulUpstreamSource({ url: consul.url, token: consul.token, datacenter: config.datacenter, clock, log, registry, maxConnections: 8, hotWatches: 0, waitMs: 1000, probeSweepMs: 60_000 });
    const kubeSource = new KubeLiveSource({ kubeConfig, clock, log, registry, staleAfterMs: timeoutMs });
    const [catalog, kube] = await Promise.all([firstVersion<ConsulCatalog>(consulSource, abort.signal, timeoutMs), firstVersion<KubeSnapshot>(kubeSource, abort.signal, timeoutMs)]);
    return buildWorld(catalog, kube, { meshRule: config.meshRule, clusterDomain: config.clusterDomain, rootNamespace: config.istioRootNamespace });
  } finally {
    abort.abort();
  }
}
