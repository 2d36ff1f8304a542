// The core every front end, the Sidecar scoping and the admin API read: the config, the world, the
// operator controls and the lookups over them, with the clocks and the change bus they share.
// Built once, by buildApp (src/app.ts).

import type { Registry } from 'prom-client';
import type { DiscoveryConfig } from '../config/config.ts';
import type { ControlStore } from '../control/control-store.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/log.ts';
import type { ChangeBus, IndexClock } from '../world/changes.ts';
import type { WorldStore } from '../world/store.ts';
import type { Lookups } from './lookup.ts';

export interface Core {
  readonly config: DiscoveryConfig;
  readonly log: Logger;
  /** Where every part registers its metrics. */
  readonly registry: Registry;
  readonly bus: ChangeBus;
  /** Issues X-Consul-Index values (not wall time). */
  readonly indexClock: IndexClock;
  /** Wall time and timers (a manual clock in tests). */
  readonly clock: Clock;
  readonly world: WorldStore;
  readonly control: ControlStore;
  readonly lookups: Lookups;
}
