// Live mode's Consul parts, all aimed at the one upstream agent (consul-addr): the catalog source
// (blocking watches, docs/adr/0008-consul-watch-layout.md), the control state in its KV shared by
// every replica (docs/adr/0010-control-in-consul-kv.md), and what the HTTP front end needs to pass
// through what Discovery does not answer itself. Discovery's token is used for its own watches
// and the control key only; callers' requests carry their own.

import type { Registry } from 'prom-client';
import type { DiscoveryConfig } from '../config/config.ts';
import { FileAuditLog } from '../control/audit-log.ts';
import { ConsulKvAuditLog } from '../control/consul-kv-audit.ts';
import { ConsulKvControlBackend } from '../control/consul-kv-backend.ts';
import { ConsulKv, consulConnection } from '../control/consul-kv-client.ts';
import { LocalOverrideFile } from '../control/local-override.ts';
import type { UpstreamConsul } from '../frontends/http/server.ts';
import { ACL_PROBE_SOCKETS } from '../frontends/http/upstream-client.ts';
import type { ServicePopularity } from '../lookup/service-popularity.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/log.ts';
import { ConsulUpstreamSource } from '../sources/consul-upstream/consul-upstream-source.ts';
import type { WorldSource } from '../sources/feed.ts';
import type { AppControl, AppPart } from '../app.ts';

export interface LiveConsul {
  readonly source: WorldSource;
  readonly control: AppControl;
  readonly upstream: UpstreamConsul;
  /** Closes the control key's client once the app has stopped watching it. */
  readonly part: AppPart;
}

export interface LiveConsulDeps {
  readonly url: string;
  readonly token: string | null;
  readonly clock: Clock;
  readonly log: Logger;
  readonly registry: Registry;
  readonly popularity: ServicePopularity;
}

export function liveConsul(config: DiscoveryConfig, deps: LiveConsulDeps): LiveConsul {
  const live = config.live;
  const source = new ConsulUpstreamSource({
    url: deps.url,
    token: deps.token,
    datacenter: config.datacenter,
    clock: deps.clock,
    log: deps.log,
    registry: deps.registry,
    // The ACL probes of callers' tokens are Discovery's own connections too: one budget for both.
    maxConnections: live.maxUpstreamConnections - (live.aclCheck ? ACL_PROBE_SOCKETS : 0),
    waitMs: live.watchWaitMs,
    hotWatches: live.hotWatches,
    hotServices: () => deps.popularity.top(live.hotWatches),
    probeSweepMs: live.probeSweepMs,
  });

  const kv = new ConsulKv(consulConnection(deps.url, deps.token));
  const control: AppControl = {
    backend: new ConsulKvControlBackend({ kv, key: config.controlKey, stateDir: config.stateDir, log: deps.log, waitMs: live.watchWaitMs, now: () => new Date(deps.clock.now()) }),
    audit: new ConsulKvAuditLog({ kv, key: config.controlKey, replica: config.replicaId }),
    localOverride: new LocalOverrideFile(config.stateDir),
    localAudit: new FileAuditLog(config.stateDir, 'audit-local.jsonl'),
  };

  const upstream: UpstreamConsul = {
    url: deps.url,
    maxBlocking: live.maxPassthroughBlocking,
    aclCheck: live.aclCheck,
    aclCacheTtlMs: live.aclCacheTtlMs,
    synced: () => source.status().synced,
    contact: () => source.contact(),
  };

  // The app stops its parts last, after the control watch: then nothing uses the client any more.
  const part: AppPart = {
    name: 'consulKv',
    start: () => undefined,
    stopped: async () => kv.close(),
  };
  return { source: { part: 'consul', source }, control, upstream, part };
}
