// The one wiring: sources -> world feed -> world -> lookups (decision, Sidecar gate) -> front ends
// -> observations -> Sidecar reconciler -> sink. buildApp takes what differs between embedded
// mode, live mode and tests (the sources, the Sidecar sink, the control backend, the clocks) and
// opens no socket; start() syncs the sources, starts the background parts and listens; stop()
// undoes it in reverse. See docs/architecture.md and docs/adr/0005-one-wiring.md.

import { mkdir } from 'node:fs/promises';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { buildAdminServer } from './admin/admin-server.ts';
import type { DiscoveryConfig } from './config/config.ts';
import type { AuditLog } from './control/audit-log.ts';
import type { ControlBackend } from './control/backend.ts';
import { ControlStore } from './control/control-store.ts';
import type { LocalOverrideStore } from './control/local-override.ts';
import { registerModeGauge } from './control/metrics.ts';
import { startDnsServer, type DnsFrontEnd } from './frontends/dns/server.ts';
import { buildHttpServer, type HttpFrontEnd, type HttpServerOptions, type UpstreamConsul } from './frontends/http/server.ts';
import { GATE_OFF, type SidecarGate } from './gate/gate.ts';
import { PropagationGate } from './gate/propagation-gate.ts';
import { AnswerCounts } from './lookup/answer-counts.ts';
import type { Core } from './lookup/core.ts';
import { Lookups, NO_OBSERVER, type LookupObserver } from './lookup/lookup.ts';
import type { ServicePopularity } from './lookup/service-popularity.ts';
import { systemClock, type Clock } from './platform/clock.ts';
import { DiscoveryError, errorMessage } from './platform/errors.ts';
import { parseHostPort } from './platform/host-port.ts';
import type { Logger } from './platform/log.ts';
import type { SharedSink } from './reconcile/reconciler.ts';
import { createSidecarScoping, type SidecarScoping } from './reconcile/scoping.ts';
import type { SidecarSink } from './sinks/sidecar-sink.ts';
import { AgentRegistrations } from './sources/agent/registrations.ts';
import { WorldFeed, type FeedWindow, type WorldSource } from './sources/feed.ts';
import { ChangeBus, IndexClock } from './world/changes.ts';
import { registerWorldProblemsGauge } from './world/metrics.ts';
import { WorldStore } from './world/store.ts';

/** What differs between embedded mode, live mode and tests. */
export interface AppDeps {
  readonly log: Logger;
  readonly sources: readonly WorldSource[];
  /** Where managed Sidecars go (used when config.sidecars.enabled). */
  readonly sidecarSink: SidecarSink;
  /** Where mode and pins are kept and shared, and where every change is audited. */
  readonly control: AppControl;
  /** Wall time and timers; default the system clock. */
  readonly clock?: Clock;
  /** X-Consul-Index source; default one following wall-clock milliseconds. */
  readonly indexClock?: IndexClock;
  /** Default: a new registry with Node's process metrics. */
  readonly registry?: Registry;
  /** How source bursts are coalesced into world rebuilds. */
  readonly feedWindow?: FeedWindow;
  readonly http?: HttpServerOptions;
  /** Also told of every lookup the Sidecar reconciler would observe (tests, instrumentation). */
  readonly observer?: LookupObserver;
  /** Set when replicas share the Sidecar sink (live mode): only the leader removes hosts. */
  readonly sharedSink?: SharedSink;
  /** Counts lookups per service for a source that ranks its watches by use (live Consul). */
  readonly popularity?: ServicePopularity;
  /** Background parts started after the sources and the reconciler, stopped after them (the Lease elector, upstream clients). */
  readonly parts?: readonly AppPart[];
}

export interface AppControl {
  readonly backend: ControlBackend;
  readonly audit: AuditLog;
  /** Where this replica keeps a mode of its own over the shared one; absent: no local override (the state dir is the shared store). */
  readonly localOverride?: LocalOverrideStore;
  /** This replica's own trail for local override changes (they must be recorded when the shared trail cannot be written). */
  readonly localAudit?: AuditLog;
}

/** Something that runs beside the sources for the app's lifetime. */
export interface AppPart {
  readonly name: string;
  start(signal: AbortSignal): void;
  /** Resolves once the part has released what it holds (after `signal` aborted). */
  stopped(): Promise<void>;
  /** Facts for /readyz and status; never a secret. */
  status?(): unknown;
}

export interface App {
  readonly core: Core;
  readonly feed: WorldFeed;
  readonly agent: AgentRegistrations;
  readonly gate: SidecarGate;
  /** null when Sidecar scoping is off. */
  readonly scoping: SidecarScoping | null;
  /** Built, not listening until start(). */
  readonly http: HttpFrontEnd;
  /** Listening once start() ran with listeners. */
  readonly dns: DnsFrontEnd | null;
  /** Bound addresses once started (port 0 resolved). */
  readonly addresses: { http?: string; dns?: string; admin?: string };
  /** Sync the sources, start the background parts, then (unless `listen` is false) open the three listeners. */
  start(opts?: { listen?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

function fanOut(candidates: ReadonlyArray<LookupObserver | undefined>): LookupObserver {
  const observers = candidates.filter((o): o is LookupObserver => o !== undefined);
  if (observers.length <= 1) return observers[0] ?? NO_OBSERVER;
  return { observe: (o) => observers.forEach((x) => x.observe(o)) };
}

/** The upstream as the front end sees it: synced only once the world holds the Consul part too. Delegates (never copies) so a class instance keeps its methods and current values. */
function syncedInWorld(upstream: UpstreamConsul, inWorld: () => boolean): UpstreamConsul {
  return {
    get url() {
      return upstream.url;
    },
    get maxBlocking() {
      return upstream.maxBlocking;
    },
    get aclCheck() {
      return upstream.aclCheck;
    },
    get aclCacheTtlMs() {
      return upstream.aclCacheTtlMs;
    },
    synced: () => upstream.synced() && inWorld(),
    contact: () => upstream.contact(),
  };
}

function listenError(what: string, addr: string, err: unknown): DiscoveryError {
  const code = (err as NodeJS.ErrnoException).code;
  const why = code === 'EADDRINUSE' ? 'address already in use' : code === 'EADDRNOTAVAIL' ? 'address not available on this host' : code === 'EACCES' ? 'permission denied' : errorMessage(err);
  return new DiscoveryError('DSC_ERR_LISTEN', `cannot listen for ${what} on ${addr}: ${why}`, { cause: err });
}

export async function buildApp(config: DiscoveryConfig, deps: AppDeps): Promise<App> {
  const { log } = deps;
  const clock = deps.clock ?? systemClock;
  const indexClock = deps.indexClock ?? new IndexClock(() => clock.now());
  const registry = deps.registry ?? new Registry();
  if (!deps.registry) collectDefaultMetrics({ register: registry });
  const bus = new ChangeBus();

  await mkdir(config.stateDir, { recursive: true });
  const world = new WorldStore({ meshRule: config.meshRule, clusterDomain: config.clusterDomain, rootNamespace: config.istioRootNamespace }, indexClock, bus);
  const control = await ControlStore.open({
    backend: deps.control.backend,
    audit: deps.control.audit,
    ...(deps.control.localOverride ? { localOverride: deps.control.localOverride } : {}),
    ...(deps.control.localAudit ? { localAudit: deps.control.localAudit } : {}),
    replica: config.replicaId,
    indexClock,
    bus,
  });
  const agent = await AgentRegistrations.open({ dir: config.stateDir, indexClock, clock });
  // With an upstream Consul agent, registrations go to it (the live HTTP routes pass them through)
  // and come back in its catalog; the local emulation's would be stale copies.
  const localAgent = !deps.http?.upstream;
  const agentNode = { name: config.nodeName, address: parseHostPort(config.httpAddr)?.host ?? '127.0.0.1', datacenter: config.datacenter };
  const feed = new WorldFeed({
    world,
    sources: deps.sources,
    agent: localAgent ? { instances: () => agent.instances(agentNode), onChange: (l) => agent.onChange(l) } : null,
    clock,
    log,
    registry,
    ...(deps.feedWindow ? { window: deps.feedWindow } : {}),
  });
  registerWorldProblemsGauge(registry, () => world.current.problems);
  registerModeGauge(registry, () => control.mode);

  // The Sidecar gate is read by lookups and fed by the reconciler (the one edge against the flow).
  const base = { config, log, registry, bus, indexClock, clock, world, control };
  const propagation = config.sidecars.enabled ? new PropagationGate({ world, indexClock, bus, clock, propagationDelayMs: config.sidecars.propagationDelayMs }) : null;
  const scoping = propagation ? createSidecarScoping(base, deps.sidecarSink, propagation, deps.sharedSink ?? null) : null;
  const gate: SidecarGate = propagation ?? GATE_OFF;
  const lookups = new Lookups({ world, control, gate, observer: fanOut([scoping?.observer, deps.observer]), counters: new AnswerCounts(registry), datacenter: config.datacenter, ...(deps.popularity ? { popularity: deps.popularity } : {}) });
  const core: Core = { ...base, lookups };

  // Before the Consul part is in the world, reads are passed through (a synced source whose data
  // waits for the next coalesced rebuild would otherwise answer from an empty catalog).
  const upstream = deps.http?.upstream;
  const httpOptions = upstream ? { ...deps.http, upstream: syncedInWorld(upstream, () => feed.partSynced('consul')) } : deps.http;
  const http = await buildHttpServer(core, agent, httpOptions);
  const admin = buildAdminServer(core, {
    ready: () => ({ ready: started && feed.synced, detail: { sources: feed.status(), mode: control.mode, control: control.status().backend, ...partsStatus() } }),
    gate,
    sidecars: () => ({ enabled: scoping !== null, items: scoping?.managedSidecars() ?? [], status: scoping?.status() ?? {} }),
  });

  const controlWatch = new AbortController();
  const partsSignal = new AbortController();
  const parts = deps.parts ?? [];
  const partsStatus = (): Record<string, unknown> => Object.fromEntries(parts.flatMap((p) => (p.status ? [[p.name, p.status()]] : [])));
  const addresses: App['addresses'] = {};
  let dns: DnsFrontEnd | null = null;
  let started = false;

  async function listen(): Promise<void> {
    try {
      const a = await http.listen(config.httpAddr);
      addresses.http = `${a.host}:${a.port}`;
    } catch (err) {
      throw listenError('the Consul HTTP API', config.httpAddr, err);
    }
    try {
      dns = await startDnsServer(core, config.dnsAddr);
      addresses.dns = `${parseHostPort(config.dnsAddr)?.host ?? ''}:${dns.udpPort}`;
    } catch (err) {
      throw err instanceof DiscoveryError ? err : listenError('Consul DNS', config.dnsAddr, err);
    }
    const adminAddr = parseHostPort(config.adminAddr)!;
    try {
      await admin.listen({ host: adminAddr.host, port: adminAddr.port });
      const bound = admin.server.address();
      addresses.admin = typeof bound === 'object' && bound ? `${adminAddr.host}:${bound.port}` : config.adminAddr;
    } catch (err) {
      throw listenError('the admin API', config.adminAddr, err);
    }
  }

  return {
    core,
    feed,
    agent,
    gate,
    scoping,
    http,
    get dns() {
      return dns;
    },
    addresses,
    async start(opts = {}) {
      await feed.start();
      // Replicas sharing the control backend follow each other's kill-switch and pins.
      control.watch(controlWatch.signal, (message) => log.error({ component: 'control' }, message));
      // After the sources synced: user Sidecars must be known before any is written (invariant 4).
      await scoping?.start();
      for (const part of parts) part.start(partsSignal.signal);
      // A replica that becomes the leader takes over expiry and namespace defaults at once.
      deps.sharedSink?.onChange?.((leader) => {
        if (leader) scoping?.flush().catch((err: unknown) => log.error({ err }, 'Sidecar reconcile after taking the lead failed'));
      });
      started = true;
      if (opts.listen !== false) await listen();
      log.info({ http: addresses.http, dns: addresses.dns, admin: addresses.admin, mode: control.mode, sidecars: config.sidecars.enabled }, 'Discovery is serving');
    },
    async stop() {
      // Blocking queries first (answered with the current index), then listeners, then writers.
      const steps: Array<[string, () => unknown]> = [
        ['http', () => http.close()],
        ['dns', () => dns?.close()],
        ['admin', () => admin.close()],
        ['sidecars', () => scoping?.stop()],
        ['gate', () => propagation?.stop()],
        ['control', () => controlWatch.abort()],
        ['agent', () => agent.close()],
        ['sources', () => feed.stop()],
        // Last: the Lease is released once nothing writes Sidecars, upstream clients closed once nothing watches.
        ['parts', async () => {
          partsSignal.abort();
          await Promise.all(parts.map((p) => p.stopped()));
        }],
      ];
      for (const [part, step] of steps) {
        try {
          await step();
        } catch (err) {
          log.error({ err, part }, 'error while stopping');
        }
      }
    },
  };
}
