// Builds the core (world store, control store, lookups) over a temporary state dir for tests.

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChangeBus, IndexClock } from '../../src/world/changes.ts';
import { WorldStore } from '../../src/world/store.ts';
import { ControlStore } from '../../src/control/control-store.ts';
import { Lookups, type Observation } from '../../src/lookup/lookup.ts';
import { NO_GATE, type SidecarGateView } from '../../src/lookup/sidecar-gate.ts';
import { standardWorld } from './world-fixtures.ts';

export interface TestCore {
  bus: ChangeBus;
  clock: IndexClock;
  world: WorldStore;
  control: ControlStore;
  lookups: Lookups;
  observations: Observation[];
  stateDir: string;
  setGate(g: SidecarGateView): void;
}

export async function testCore(opts: { stateDir?: string; world?: ReturnType<typeof standardWorld> } = {}): Promise<TestCore> {
  const stateDir = opts.stateDir ?? (await mkdtemp(join(tmpdir(), 'discovery-test-')));
  const bus = new ChangeBus();
  const clock = new IndexClock();
  const world = new WorldStore({ meshRule: 'any', clusterDomain: 'cluster.local', rootNamespace: 'istio-system' }, clock, bus);
  const w = opts.world ?? standardWorld();
  world.update({ consul: w.consul, kube: w.kube });
  const control = await ControlStore.open(stateDir, clock, bus);
  const observations: Observation[] = [];
  let gate: SidecarGateView = NO_GATE;
  const lookups = new Lookups({ world, control, gate: () => gate, observer: { observe: (o) => observations.push(o) }, datacenter: 'dc1' });
  return { bus, clock, world, control, lookups, observations, stateDir, setGate: (g) => (gate = g) };
}
