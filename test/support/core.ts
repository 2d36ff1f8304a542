// Builds the core (world store, control store, lookups) over a temporary state dir for tests,
// shaped as the AppContext the front ends receive.

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppContext } from '../../src/app-context.ts';
import type { DiscoveryConfig } from '../../src/config/config.ts';
import { DEFAULT_CONFIG } from '../../src/config/defaults.ts';
import { ChangeBus, IndexClock } from '../../src/world/changes.ts';
import { WorldStore } from '../../src/world/store.ts';
import { ControlStore } from '../../src/control/control-store.ts';
import { Lookups, type Observation } from '../../src/lookup/lookup.ts';
import { NO_GATE, type SidecarGateView } from '../../src/lookup/sidecar-gate.ts';
import { CoreMetrics } from '../../src/core-metrics.ts';
import { createLogger } from '../../src/platform/log.ts';
import { standardWorld } from './world-fixtures.ts';

export interface TestCore extends AppContext {
  observations: Observation[];
  stateDir: string;
  setGate(g: SidecarGateView): void;
}

export async function testCore(
  opts: { stateDir?: string; world?: ReturnType<typeof standardWorld>; config?: Partial<DiscoveryConfig> } = {},
): Promise<TestCore> {
  const stateDir = opts.stateDir ?? (await mkdtemp(join(tmpdir(), 'discovery-test-')));
  const config: DiscoveryConfig = { ...DEFAULT_CONFIG, stateDir, ...opts.config };
  const bus = new ChangeBus();
  const clock = new IndexClock();
  const world = new WorldStore({ meshRule: config.meshRule, clusterDomain: config.clusterDomain, rootNamespace: config.istioRootNamespace }, clock, bus);
  const w = opts.world ?? standardWorld();
  world.update({ consul: w.consul, kube: w.kube });
  const control = await ControlStore.open(stateDir, clock, bus);
  const observations: Observation[] = [];
  let gate: SidecarGateView = NO_GATE;
  const metrics = new CoreMetrics(undefined, false);
  const lookups = new Lookups({ world, control, gate: () => gate, observer: { observe: (o) => observations.push(o) }, counters: metrics, datacenter: config.datacenter });
  const log = createLogger(process.env['TEST_LOG_LEVEL'] ?? 'silent');
  return { config, log, bus, clock, world, control, lookups, metrics, observations, stateDir, setGate: (g) => (gate = g) };
}
