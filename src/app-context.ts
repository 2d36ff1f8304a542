// What every front end and background part receives: the shared core, built once in app.ts.

import type { DiscoveryConfig } from './config/config.ts';
import type { Logger } from './platform/log.ts';
import type { ChangeBus, IndexClock } from './world/changes.ts';
import type { WorldStore } from './world/store.ts';
import type { ControlStore } from './control/control-store.ts';
import type { Lookups } from './lookup/lookup.ts';
import type { CoreMetrics } from './core-metrics.ts';

export interface AppContext {
  readonly config: DiscoveryConfig;
  readonly log: Logger;
  readonly bus: ChangeBus;
  readonly clock: IndexClock;
  readonly world: WorldStore;
  readonly control: ControlStore;
  readonly lookups: Lookups;
  /** `metrics.registry` is where every part registers its own metrics. */
  readonly metrics: CoreMetrics;
}
