// The core of a test app built through buildApp (no listeners), shaped as the Core the front
// ends receive, plus what tests inspect and drive.

import type { DiscoveryConfig } from '../../src/config/config.ts';
import type { Core } from '../../src/lookup/core.ts';
import type { Observation } from '../../src/lookup/lookup.ts';
import { testApp, type TestApp, type TestAppOptions, type TestWorld } from './app.ts';

export interface TestCore extends Core {
  readonly test: TestApp;
  readonly stateDir: string;
  readonly observations: Observation[];
  setWorld(w: TestWorld): void;
}

export type TestCoreOptions = Pick<TestAppOptions, 'sidecars' | 'http' | 'sink' | 'clock' | 'observer' | 'sharedSink' | 'log'> & { stateDir?: string; world?: TestWorld; config?: Partial<DiscoveryConfig> };

export async function testCore(opts: TestCoreOptions = {}): Promise<TestCore> {
  const t = await testApp(opts);
  return { ...t.app.core, test: t, stateDir: t.stateDir, observations: t.observations, setWorld: (w) => t.setWorld(w) };
}
