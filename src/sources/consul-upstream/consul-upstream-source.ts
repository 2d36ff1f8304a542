// The Consul half of the world in live mode: the catalog of an upstream Consul agent, followed
// with a bounded number of connections (docs/adr/0008-consul-watch-layout.md) and delivered as
// one immutable ConsulCatalog per change. Never partial: the first delivery waits until every
// service has been read in full. Fail static: when the upstream is down, hangs or answers 5xx,
// the last good catalog stays and the listener hears stale(true) until it answers again.

import type { Registry } from 'prom-client';
import type { Clock, Timer } from '../../platform/clock.ts';
import type { Logger } from '../../platform/log.ts';
import type { ConsulCatalog } from '../../world/consul-types.ts';
import type { Source, SourceListener, SourceStatus } from '../source.ts';
import { CatalogFollower } from './catalog-follower.ts';
import { CatalogModel } from './catalog-model.ts';
import { UpstreamHttp, displayUrl } from './upstream-http.ts';
import { Conversion } from './upstream-json.ts';
import { UpstreamMonitor } from './upstream-monitor.ts';

export interface ConsulUpstreamOptions {
  /** The upstream agent's HTTP API: 'http://127.0.0.1:8500' or https://…. */
  readonly url: string;
  /** Discovery's own token, sent as X-Consul-Token on every request; never logged, never in errors or metrics. */
  readonly token: string | null;
  /** The datacenter Discovery answers as (every node is rendered with it). */
  readonly datacenter: string;
  readonly clock: Clock;
  readonly log: Logger;
  readonly registry: Registry;
  /** Jitter of the backoffs; Math.random unless given. */
  readonly random?: () => number;
  /** Hard cap of sockets to the upstream, the control key's watch included (one is left for it). Default 64. */
  readonly maxConnections?: number;
  /** Wait of the blocking queries. Default 5 min. */
  readonly waitMs?: number;
  /** Services with their own blocking watch. Default 48 (fewer when maxConnections leaves no room). */
  readonly hotWatches?: number;
  /** Service names, most looked-up first. Default: none. */
  readonly hotServices?: () => readonly string[];
  /** Period of the full index-probe sweep. Default 60 s. */
  readonly probeSweepMs?: number;
}

/** The three wide watches. */
const DETECTORS = 3;
/** The control key's watch (docs/adr/0010-control-in-consul-kv.md) is another component's, on its own socket. */
const RESERVED_FOR_CONTROL = 1;
/** The pool never shrinks below this, whatever the hot set asks. */
const MIN_POOL = 4;
/** Changes landing together (one wake-up names several services) become one delivery. */
const DELIVERY_DELAY_MS = 10;

export interface ConnectionBudget {
  /** Sockets this source may open: maxConnections less the control key's. */
  readonly own: number;
  readonly hot: number;
  readonly pool: number;
}

/** detectors + hot + pool = maxConnections - 1 (the control key's). */
export function connectionBudget(maxConnections: number, hotWatches: number): ConnectionBudget {
  const own = maxConnections - RESERVED_FOR_CONTROL;
  if (!Number.isInteger(maxConnections) || own < DETECTORS + MIN_POOL) {
    throw new Error(`maxConnections must be an integer of at least ${DETECTORS + MIN_POOL + RESERVED_FOR_CONTROL} (3 watches, the control key, a pool of ${MIN_POOL}), got ${maxConnections}`);
  }
  const hot = Math.max(0, Math.min(Math.floor(hotWatches), own - DETECTORS - MIN_POOL));
  return { own, hot, pool: own - DETECTORS - hot };
}

export class ConsulUpstreamSource implements Source<ConsulCatalog> {
  readonly name: string;
  readonly budget: ConnectionBudget;
  readonly #opts: ConsulUpstreamOptions;
  readonly #url: string;
  readonly #http: UpstreamHttp;
  readonly #monitor: UpstreamMonitor;
  readonly #model = new CatalogModel();
  readonly #follower: CatalogFollower;
  #listener: SourceListener<ConsulCatalog> | null = null;
  #stopped = false;
  #synced = false;
  #stale = false;
  #deliveryTimer: Timer | null = null;
  #version: string | null = null;
  #lastChangeAt: number | null = null;
  #loads = 0;

  constructor(opts: ConsulUpstreamOptions) {
    this.#opts = opts;
    this.#url = displayUrl(opts.url);
    this.name = `consul ${this.#url}`;
    this.budget = connectionBudget(opts.maxConnections ?? 64, opts.hotWatches ?? 48);
    const waitMs = opts.waitMs ?? 5 * 60_000;
    if (!(waitMs >= 1)) throw new Error(`waitMs must be positive, got ${waitMs}`);
    this.#http = new UpstreamHttp({ url: opts.url, token: opts.token, maxSockets: this.budget.own, clock: opts.clock });
    this.#monitor = new UpstreamMonitor({
      name: this.name,
      clock: opts.clock,
      log: opts.log,
      registry: opts.registry,
      openConnections: () => this.#http.openConnections,
      onReachable: (reachable) => this.#reachable(reachable),
      onProblem: (err) => {
        if (!this.#stopped) this.#listener?.error(err);
      },
    });
    this.#follower = new CatalogFollower({
      name: this.name,
      http: this.#http,
      clock: opts.clock,
      random: opts.random ?? Math.random,
      log: opts.log,
      waitMs,
      probeSweepMs: opts.probeSweepMs ?? 60_000,
      poolSize: this.budget.pool,
      hotCapacity: this.budget.hot,
      hotServices: opts.hotServices ?? (() => []),
      model: this.#model,
      conv: new Conversion(opts.datacenter),
      record: (kind, path, startedAt, err) => this.#monitor.record(kind, path, startedAt, err),
      changed: () => this.#scheduleDelivery(),
      synced: () => {
        this.#synced = true;
        this.#deliver();
      },
    });
  }

  /** Resolves at once; the first catalog is delivered once every service has been read. */
  async start(listener: SourceListener<ConsulCatalog>, signal: AbortSignal): Promise<void> {
    if (this.#listener) throw new Error(`source ${this.name} already started`);
    this.#listener = listener;
    if (signal.aborted) return this.#stop();
    signal.addEventListener('abort', () => this.#stop(), { once: true });
    this.#follower.start();
  }

  status(): SourceStatus {
    return {
      name: this.name,
      synced: this.#synced,
      version: this.#version,
      lastChangeAt: this.#lastChangeAt,
      lastError: this.#monitor.lastError,
      loads: this.#loads,
      errors: this.#monitor.errors,
      detail: {
        url: this.#url,
        connections: this.#http.openConnections,
        hot: this.#follower.hotCount,
        lastContactAt: this.#monitor.lastContactAt,
        reachable: this.#monitor.reachable,
      },
    };
  }

  /** For response headers: reachable now, and epoch ms of the last successful upstream answer (null: never). */
  contact(): { readonly reachable: boolean; readonly lastContactAt: number | null } {
    return { reachable: this.#monitor.reachable, lastContactAt: this.#monitor.lastContactAt };
  }

  #stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#deliveryTimer?.cancel();
    this.#deliveryTimer = null;
    this.#follower.stop();
    this.#http.close();
  }

  #scheduleDelivery(): void {
    if (this.#stopped || this.#deliveryTimer) return;
    this.#deliveryTimer = this.#opts.clock.setTimer(DELIVERY_DELAY_MS, () => {
      this.#deliveryTimer = null;
      this.#deliver();
    });
  }

  #deliver(): void {
    if (this.#stopped || !this.#synced || !this.#model.changed) return;
    const catalog = this.#model.build();
    this.#loads++;
    this.#lastChangeAt = this.#opts.clock.now();
    this.#version = String(this.#follower.servicesIndex);
    this.#listener?.data(catalog);
  }

  #reachable(reachable: boolean): void {
    if (this.#stopped) return;
    if (!reachable) {
      if (this.#synced && !this.#stale) {
        this.#stale = true;
        this.#listener?.stale(true);
      }
      return;
    }
    if (this.#stale) {
      this.#stale = false;
      this.#listener?.stale(false);
    }
    if (this.#synced) this.#follower.recovered();
  }
}
