// Wiring: sources -> world -> decision (via lookups) -> front ends -> observations -> Sidecar
// reconciler -> sink. Builds everything from the config, starts in dependency order, stops in
// reverse. No I/O happens in createApp except opening the state dir.

import type { AppContext } from './app-context.ts';
import type { DiscoveryConfig } from './config/config.ts';
import { parseHostPort } from './platform/host-port.ts';
import type { Logger } from './platform/log.ts';
import { CoreMetrics } from './core-metrics.ts';
import { releaseAfterLoad } from './platform/heap.ts';
import { DiscoveryError, errorMessage } from './platform/errors.ts';
import { ChangeBus, IndexClock } from './world/changes.ts';
import { EMPTY_CATALOG, WorldStore } from './world/store.ts';
import type { ConsulCatalog } from './world/consul-types.ts';
import type { KubeSnapshot } from './world/kube-types.ts';
import { ControlStore } from './control/control-store.ts';
import { Lookups, type LookupObserver } from './lookup/lookup.ts';
import { NO_GATE, type SidecarGateView } from './lookup/sidecar-gate.ts';
import type { Source } from './sources/source.ts';
import { consulSnapshotSource, kubeSnapshotSource } from './sources/snapshot-sources.ts';
import { buildHttpServer, type HttpFrontEnd } from './frontends/http/server.ts';
import { mergeAgentInstances } from './frontends/http/agent-store.ts';
import { startDnsServer, type DnsFrontEnd } from './frontends/dns/server.ts';
import { createSidecarScoping, type SidecarScoping } from './reconcile/scoping.ts';
import { FileSidecarSink } from './sinks/file-sidecar-sink.ts';
import { buildAdminServer } from './admin/admin-server.ts';

export interface App {
  readonly ctx: AppContext;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Bound addresses once started (port 0 resolved). */
  readonly addresses: { http?: string; dns?: string; admin?: string };
}

const NO_OBSERVER: LookupObserver = { observe: () => undefined };

function listenError(what: string, addr: string, err: unknown): DiscoveryError {
  const code = (err as NodeJS.ErrnoException).code;
  const why = code === 'EADDRINUSE' ? 'address already in use' : code === 'EADDRNOTAVAIL' ? 'address not available on this host' : code === 'EACCES' ? 'permission denied' : errorMessage(err);
  return new DiscoveryError('DSC_ERR_LISTEN', `cannot listen for ${what} on ${addr}: ${why}`, { cause: err });
}

export async function createApp(config: DiscoveryConfig, log: Logger): Promise<App> {
  const bus = new ChangeBus();
  const clock = new IndexClock();
  const metrics = new CoreMetrics();
  const world = new WorldStore({ meshRule: config.meshRule, clusterDomain: config.clusterDomain, rootNamespace: config.istioRootNamespace }, clock, bus);
  const control = await ControlStore.open(config.stateDir, clock, bus);
  let gate: SidecarGateView = NO_GATE;
  let observer: LookupObserver = NO_OBSERVER;
  const lookups = new Lookups({ world, control, gate: () => gate, observer: { observe: (o) => observer.observe(o) }, counters: metrics, datacenter: config.datacenter });
  const ctx: AppContext = { config, log, bus, clock, world, control, lookups, metrics };

  const sources: Array<Source<unknown>> = [];
  let http: HttpFrontEnd | undefined;
  let dns: DnsFrontEnd | undefined;
  let admin: ReturnType<typeof buildAdminServer> | undefined;
  let scoping: SidecarScoping | undefined;
  let synced = false;
  const addresses: App['addresses'] = {};

  // Problems in the world (ambiguous mappings, ports, shared caller IPs) are logged when they appear,
  // at start and after any reload; metrics and explain show the current set.
  let reported = new Set<string>();
  const reportProblems = (): void => {
    const now = new Set<string>();
    for (const p of world.world.problems) {
      const key = `${p.kind}|${p.subject}|${p.detail}`;
      now.add(key);
      if (!reported.has(key)) log.warn({ problem: p.kind, subject: p.subject }, p.detail);
    }
    reported = now;
  };

  const sourceError = (name: string) => (err: Error) => {
    metrics.reloads.inc({ source: name, result: 'error' });
    log.error({ source: name, err: err.message }, `${name}: rejected a new version, keeping the last good world: ${err.message}`);
  };

  async function start(): Promise<void> {
    // Front ends are built first (not yet listening) so agent registrations are part of the first world.
    http = await buildHttpServer(ctx);
    const agent = http.agent;
    const agentNode = { name: config.nodeName, address: parseHostPort(config.httpAddr)?.host ?? '127.0.0.1', datacenter: config.datacenter };
    const syncStarted = performance.now();
    let sourceCatalog: ConsulCatalog = EMPTY_CATALOG;
    // Until both sources delivered their first version, keep them aside: the world is built once.
    let initialKube: KubeSnapshot | null = null;
    const catalogNow = () => mergeAgentInstances(sourceCatalog, agent.instances(agentNode));
    const publishCatalog = () => {
      if (synced) world.update({ consul: catalogNow() });
    };
    agent.onChange(publishCatalog);

    if (config.consulSnapshot) {
      const s = consulSnapshotSource(config.consulSnapshot, config.datacenter, { pollIntervalMs: config.snapshotPollMs, onError: sourceError('consul-snapshot') });
      sources.push(s);
      await s.start((catalog) => {
        sourceCatalog = catalog;
        publishCatalog();
        metrics.reloads.inc({ source: 'consul-snapshot', result: 'ok' });
        releaseAfterLoad();
        if (synced) reportProblems();
        log.info({ source: 'consul-snapshot', services: catalog.services.size, nodes: catalog.nodes.size }, 'Consul snapshot loaded');
      });
    }
    if (config.kubeSnapshot) {
      const s = kubeSnapshotSource(config.kubeSnapshot, {
        pollIntervalMs: config.snapshotPollMs,
        onError: sourceError('kube-snapshot'),
        onIgnored: (ignored) => log.debug({ ignored: Object.fromEntries(ignored) }, 'kube snapshot: objects of other kinds ignored'),
      });
      sources.push(s);
      await s.start((kube) => {
        if (synced) world.update({ kube });
        else initialKube = kube;
        metrics.reloads.inc({ source: 'kube-snapshot', result: 'ok' });
        releaseAfterLoad();
        if (synced) reportProblems();
        log.info({ source: 'kube-snapshot', pods: kube.pods.length, services: kube.services.length, sidecars: kube.sidecars.length }, 'Kubernetes snapshot loaded');
      });
    }
    world.update({ consul: catalogNow(), ...(initialKube ? { kube: initialKube } : {}) });
    synced = true;
    // Replicas sharing a state dir follow each other's kill-switch and pins.
    control.watchShared(config.snapshotPollMs, (message) => log.error({ component: 'control' }, message));
    reportProblems();
    const w = world.world;
    log.info({ syncMs: Math.round(performance.now() - syncStarted), services: w.consul.services.size, callers: w.callers.size, problems: w.problems.length }, 'world loaded');

    if (config.sidecars.enabled) {
      // After the sources synced: user Sidecars must be known before we write any (invariant 4).
      scoping = await createSidecarScoping(ctx, new FileSidecarSink(config.stateDir));
      await scoping.start();
      gate = scoping.gate;
      observer = scoping.observer;
    }

    try {
      const a = await http.listen(config.httpAddr);
      addresses.http = `${a.host}:${a.port}`;
    } catch (err) {
      throw listenError('the Consul HTTP API', config.httpAddr, err);
    }
    try {
      dns = await startDnsServer(ctx, config.dnsAddr);
      addresses.dns = `${parseHostPort(config.dnsAddr)?.host ?? ''}:${dns.udpPort}`;
    } catch (err) {
      throw err instanceof DiscoveryError ? err : listenError('Consul DNS', config.dnsAddr, err);
    }
    admin = buildAdminServer(ctx, {
      ready: () => ({ ready: synced, detail: { sources: sources.map((s) => s.status()), mode: control.mode } }),
      gate: () => gate,
      sidecars: () => ({ enabled: scoping !== undefined, items: scoping?.managedSidecars() ?? [], status: scoping?.status() ?? {} }),
    });
    const adminAddr = parseHostPort(config.adminAddr)!;
    try {
      await admin.listen({ host: adminAddr.host, port: adminAddr.port });
      const bound = admin.server.address();
      addresses.admin = typeof bound === 'object' && bound ? `${adminAddr.host}:${bound.port}` : config.adminAddr;
    } catch (err) {
      throw listenError('the admin API', config.adminAddr, err);
    }
    metrics.setMode(control.mode);
    log.info({ http: addresses.http, dns: addresses.dns, admin: addresses.admin, mode: control.mode, sidecars: config.sidecars.enabled }, 'Discovery is serving');
  }

  async function stop(): Promise<void> {
    // Blocking queries first (answered with the current index), then listeners, then writers.
    const steps: Array<[string, () => unknown]> = [
      ['http', () => http?.close()],
      ['dns', () => dns?.close()],
      ['admin', () => admin?.close()],
      ['sidecars', () => scoping?.stop()],
      ['control', () => control.stopWatching()],
      ['agent', () => http?.agent.close()],
      ...sources.map((s): [string, () => Promise<void>] => [s.name, () => s.stop()]),
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (err) {
        log.error({ err, part: name }, 'error while stopping');
      }
    }
  }

  return { ctx, start, stop, addresses };
}
