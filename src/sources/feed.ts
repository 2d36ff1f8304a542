// The world feed: the one place sources meet the world store. It starts every configured source
// (snapshot files today, live upstreams later), keeps the latest version each delivered, merges
// this agent's own registrations into the Consul catalog, and rebuilds the world once per burst:
// a rollout that changes a thousand Pods rebuilds a few times, not a thousand.

import { Counter, type Registry } from 'prom-client';
import { Coalescer } from '../platform/coalesce.ts';
import type { Clock } from '../platform/clock.ts';
import { releaseAfterLoad } from '../platform/heap.ts';
import type { Logger } from '../platform/log.ts';
import type { ConsulCatalog, ConsulInstance } from '../world/consul-types.ts';
import type { KubeSnapshot } from '../world/kube-types.ts';
import { EMPTY_KUBE } from '../world/kube-types.ts';
import { EMPTY_CATALOG, type WorldStore } from '../world/store.ts';
import { withAgentInstances } from './agent/merge.ts';
import type { Source, SourceStatus } from './source.ts';

/** Which part of the world a source feeds. */
export type WorldSource = { readonly part: 'consul'; readonly source: Source<ConsulCatalog> } | { readonly part: 'kube'; readonly source: Source<KubeSnapshot> };

/** This agent's registrations, merged into whatever catalog the Consul source delivers. */
export interface AgentInstances {
  instances(): ConsulInstance[];
  onChange(listener: () => void): () => void;
}

export interface FeedWindow {
  /** Rebuild once deliveries pause this long… */
  readonly quietMs: number;
  /** …or at the latest this long after the first delivery of a burst. 0 and 0: rebuild on every delivery. */
  readonly maxMs: number;
}

/**
 * Kubernetes watches deliver a rollout as a stream of events; 100 ms of quiet ends a burst, and a
 * rebuild that walks every Pod runs at most once a second.
 */
export const DEFAULT_FEED_WINDOW: FeedWindow = { quietMs: 100, maxMs: 1000 };
/**
 * The Consul source already gathers what lands together (10 ms), and a Consul-only rebuild reuses
 * every Kubernetes-derived part (src/world/world.ts), so its changes reach answers sooner: at most
 * 250 ms after the first delivery of a burst, even while Kubernetes events keep coming.
 */
export const CONSUL_FEED_WINDOW: FeedWindow = { quietMs: 20, maxMs: 250 };

export interface WorldFeedDeps {
  readonly world: WorldStore;
  readonly sources: readonly WorldSource[];
  readonly agent: AgentInstances | null;
  readonly clock: Clock;
  readonly log: Logger;
  readonly registry: Registry;
  /** One window for every part (tests); by default Kubernetes gets DEFAULT_FEED_WINDOW and Consul CONSUL_FEED_WINDOW. */
  readonly window?: FeedWindow;
}

export class WorldFeed {
  readonly #deps: WorldFeedDeps;
  readonly #abort = new AbortController();
  readonly #coalescer: Coalescer | null;
  readonly #consulWindow: FeedWindow | undefined;
  readonly #deliveries: Counter<'source' | 'result'>;
  #consul: ConsulCatalog = EMPTY_CATALOG;
  #kube: KubeSnapshot = EMPTY_KUBE;
  /** Sources that delivered since the last rebuild, for the log line and the GC after a load. */
  readonly #pending = new Set<string>();
  /** Sources whose data is in the world: a delivered version counts only once a rebuild took it in. */
  readonly #applied = new Set<string>();
  #started = false;
  #reported = new Set<string>();

  constructor(deps: WorldFeedDeps) {
    for (const part of ['consul', 'kube'] as const) {
      const n = deps.sources.filter((s) => s.part === part).length;
      if (n > 1) throw new Error(`the world feed takes at most one ${part} source, got ${n}`);
    }
    this.#deps = deps;
    const window = deps.window ?? DEFAULT_FEED_WINDOW;
    this.#coalescer = window.maxMs > 0 ? new Coalescer(deps.clock, window.quietMs, window.maxMs, () => this.rebuild()) : null;
    this.#consulWindow = deps.window ? undefined : CONSUL_FEED_WINDOW;
    this.#deliveries = new Counter({
      name: 'discovery_source_reloads_total',
      help: 'Versions delivered by each source, by result (ok, error). An error keeps the last good version in effect.',
      labelNames: ['source', 'result'],
      registers: [deps.registry],
    });
  }

  /**
   * Start every source, then build the world once from what they delivered while starting (a
   * snapshot source delivers its first version before its start resolves; a live one may not
   * have synced yet, and its part stays empty until it does). Rejects if a source cannot start.
   */
  async start(): Promise<void> {
    const started = performance.now();
    await Promise.all(this.#deps.sources.map((s) => this.#startSource(s)));
    this.#deps.agent?.onChange(() => this.rebuild());
    this.#started = true;
    this.rebuild();
    const w = this.#deps.world.current;
    this.#deps.log.info({ syncMs: Math.round(performance.now() - started), services: w.consul.services.size, callers: w.callers.size, problems: w.problems.length }, 'world loaded');
  }

  stop(): void {
    this.#abort.abort();
    this.#coalescer?.cancel();
  }

  status(): SourceStatus[] {
    return this.#deps.sources.map((s) => s.source.status());
  }

  /** Every source has delivered a complete first version, and the world has been built from it. */
  get synced(): boolean {
    return this.#deps.sources.every((s) => this.#inWorld(s));
  }

  /** The source of `part` (if any) is synced and its data is in the world: answers can be built from it. */
  partSynced(part: WorldSource['part']): boolean {
    return this.#deps.sources.every((s) => s.part !== part || this.#inWorld(s));
  }

  #inWorld(s: WorldSource): boolean {
    return s.source.status().synced && this.#applied.has(s.source.name);
  }

  /** Rebuild the world now from the latest version of every part. */
  rebuild(): void {
    this.#coalescer?.cancel();
    const consul = withAgentInstances(this.#consul, this.#deps.agent?.instances() ?? []);
    this.#deps.world.update({ consul, kube: this.#kube });
    if (this.#pending.size > 0) {
      for (const name of this.#pending) this.#applied.add(name);
      this.#pending.clear();
      releaseAfterLoad();
    }
    this.#reportProblems();
  }

  async #startSource(s: WorldSource): Promise<void> {
    const name = s.source.name;
    const onError = (err: Error): void => {
      this.#deliveries.inc({ source: name, result: 'error' });
      this.#deps.log.error({ source: name, err: err.message }, `${name}: rejected a new version, keeping the last good one: ${err.message}`);
    };
    const signal = this.#abort.signal;
    if (s.part === 'consul') {
      await s.source.start(
        {
          data: (catalog) => {
            this.#consul = catalog;
            this.#delivered(name, { services: catalog.services.size, nodes: catalog.nodes.size }, this.#consulWindow);
          },
          error: onError,
          stale: (stale) => this.#stale(name, stale, 'answers carry X-Consul-KnownLeader: false until it recovers'),
        },
        signal,
      );
    } else {
      await s.source.start(
        {
          data: (kube) => {
            this.#kube = kube;
            this.#delivered(name, { pods: kube.pods.length, services: kube.services.length, sidecars: kube.sidecars.length });
          },
          error: onError,
          stale: (stale) => {
            this.#stale(name, stale, 'every answer is HAProxy (reason kube-stale) until it recovers');
            this.#deps.world.setKubeStale(stale);
          },
        },
        signal,
      );
    }
  }

  #stale(name: string, stale: boolean, consequence: string): void {
    if (stale) this.#deps.log.warn({ source: name }, `${name}: cannot follow the upstream; the last good version stays in effect and ${consequence}`);
    else this.#deps.log.info({ source: name }, `${name}: following the upstream again`);
  }

  #delivered(name: string, summary: Record<string, number>, window?: FeedWindow): void {
    this.#deliveries.inc({ source: name, result: 'ok' });
    this.#pending.add(name);
    this.#deps.log.info({ source: name, ...summary }, `${name}: new version`);
    if (!this.#started) return;
    if (this.#coalescer) this.#coalescer.trigger(window);
    else this.rebuild();
  }

  /** Problems in the world (ambiguous mappings, ports, shared caller IPs) are logged once, when they appear. */
  #reportProblems(): void {
    const now = new Set<string>();
    for (const p of this.#deps.world.current.problems) {
      const key = `${p.kind}|${p.subject}|${p.detail}`;
      now.add(key);
      if (!this.#reported.has(key)) this.#deps.log.warn({ problem: p.kind, subject: p.subject }, p.detail);
    }
    this.#reported = now;
  }
}
