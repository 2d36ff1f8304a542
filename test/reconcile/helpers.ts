// A small meshed world and the app built over it with Sidecar scoping on, driven by a ManualClock.

import type { DiscoveryConfig, SidecarConfig } from '../../src/config/config.ts';
import { DEFAULT_CONFIG } from '../../src/config/defaults.ts';
import type { Lookups } from '../../src/lookup/lookup.ts';
import type { SidecarSink } from '../../src/sinks/sidecar-sink.ts';
import type { SharedSink } from '../../src/reconcile/reconciler.ts';
import type { SidecarScoping } from '../../src/reconcile/scoping.ts';
import type { KubeSnapshot, PodInfo, SidecarInfo } from '../../src/world/kube-types.ts';
import type { ConsulCatalog } from '../../src/world/consul-types.ts';
import { testCore, type TestCore } from '../support/core.ts';
import { ManualClock } from '../support/manual-clock.ts';
import { catalog, kube, kubeService, pod, slice } from '../support/world-fixtures.ts';

export const T0 = Date.parse('2026-03-01T00:00:00Z');

/**
 * bookinfo: targets reviews (10.96.0.10) and ratings (10.96.0.12), meshed.
 * Callers: productpage (2 Pods 127.0.0.10/11, Deployment), frontend in ns web (127.0.0.12), legacy-ui in ns web (127.0.0.13).
 */
export function meshWorld(extra: { sidecars?: SidecarInfo[]; pods?: PodInfo[]; targets?: number } = {}): { consul: ConsulCatalog; kube: KubeSnapshot } {
  const n = extra.targets ?? 0;
  const names = ['reviews', 'ratings', ...Array.from({ length: n }, (_, i) => `svc${i}`)];
  const consul = catalog(names.map((s, i) => ({ service: s, node: `haproxy-${s}`, address: `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}`, port: 9080 })));
  const meshedPods = names.map((s, i) => pod('bookinfo', `${s}-v1-0`, `10.244.${Math.floor(i / 250)}.${(i % 250) + 1}`, { meshed: true, workload: `${s}-v1` }));
  const pp = (name: string, ip: string, hash: string) => ({
    ...pod('bookinfo', name, ip, { meshed: true, workload: 'productpage', labels: { app: 'productpage', version: 'v1', 'pod-template-hash': hash, 'security.istio.io/tlsMode': 'istio' } }),
  });
  const k = kube({
    namespaces: ['bookinfo', 'web', 'istio-system'],
    services: names.map((s, i) => kubeService('bookinfo', s, `10.96.${Math.floor(i / 250)}.${(i % 250) + 10}`, [{ name: 'http', port: 9080 }])),
    endpointSlices: names.map((s, i) => slice('bookinfo', s, [{ pod: `${s}-v1-0`, ip: `10.244.${Math.floor(i / 250)}.${(i % 250) + 1}` }])),
    pods: [
      ...meshedPods,
      pp('productpage-7d9f-a', '127.0.0.10', '7d9f'),
      pp('productpage-7d9f-b', '127.0.0.11', '7d9f'),
      pod('web', 'frontend-5c-x', '127.0.0.12', { meshed: true, workload: 'frontend' }),
      pod('web', 'legacy-ui-1', '127.0.0.13', { meshed: true, workload: 'legacy-ui' }),
      ...(extra.pods ?? []),
    ],
    sidecars: extra.sidecars ?? [],
  });
  return { consul, kube: k };
}

export interface Harness {
  core: TestCore;
  scoping: SidecarScoping;
  clock: ManualClock;
  lookups: Lookups;
  lookup(ip: string, service: string): ReturnType<Lookups['lookup']>;
  /** Stop the whole app (pending Sidecar writes are flushed first), as a process exit would. */
  stop(): Promise<void>;
}

export const TEST_SIDECARS: SidecarConfig = {
  ...DEFAULT_CONFIG.sidecars,
  enabled: true,
  quietPeriodMs: 1000,
  maxDelayMs: 5000,
  propagationDelayMs: 3000,
  maxWritesPerSecond: 1000,
};

export async function harness(
  sink: SidecarSink,
  opts: { sidecars?: Partial<SidecarConfig>; world?: ReturnType<typeof meshWorld>; stateDir?: string; clock?: ManualClock; config?: Partial<DiscoveryConfig>; sharedSink?: SharedSink } = {},
): Promise<Harness> {
  const clock = opts.clock ?? new ManualClock(T0);
  const core = await testCore({
    world: opts.world ?? meshWorld(),
    ...(opts.stateDir ? { stateDir: opts.stateDir } : {}),
    config: opts.config ?? {},
    sidecars: { ...TEST_SIDECARS, ...opts.sidecars },
    sink,
    clock,
    ...(opts.sharedSink ? { sharedSink: opts.sharedSink } : {}),
  });
  const scoping = core.test.app.scoping;
  if (!scoping) throw new Error('Sidecar scoping is off in this harness');
  const lookups = core.lookups;
  return { core, scoping, clock, lookups, lookup: (ip, service) => lookups.lookup(ip, service, 'http'), stop: () => core.test.stop() };
}
