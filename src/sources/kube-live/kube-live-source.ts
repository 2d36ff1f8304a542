// The Kubernetes half of the world in live mode: five supervised informers (Namespaces, Services,
// EndpointSlices, Pods, Istio Sidecars) against the API server, delivered as one KubeSnapshot.
//
// Nothing is delivered until every kind has listed once, so the world never sees a partial
// cluster (a Pod without the Sidecar that applies to it); until then the kube part stays empty
// and nobody is meshed (docs/invariants.md, invariant 1). Afterwards a burst of events is
// delivered at most once per `deliverEveryMs`, each kind's sorted array rebuilt only when that
// kind changed. When any kind cannot follow the server for longer than `staleAfterMs` the source
// reports itself stale (every answer HAProxy, reason kube-stale) until all follow again.

import type { KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { Clock, Timer } from '../../platform/clock.ts';
import type { Logger } from '../../platform/log.ts';
import type { KubeSnapshot } from '../../world/kube-types.ts';
import type { Source, SourceListener, SourceStatus } from '../source.ts';
import { DEFAULT_BACKOFF, type BackoffLimits } from './backoff.ts';
import { KindInformer, type KindInformerDeps } from './kind-informer.ts';
import { KIND_NAMES, KIND_SPECS, type KindName, type KindValues } from './kinds.ts';
import { KubeLiveMetrics } from './metrics.ts';

export interface KubeLiveOptions {
  /** Built by the caller (kubeconfig file or in-cluster); this source never loads a default. */
  readonly kubeConfig: KubeConfig;
  readonly clock: Clock;
  readonly log: Logger;
  readonly registry: Registry;
  /** Jitter source for the backoff; Math.random unless given. */
  readonly random?: () => number;
  /** Unable to watch for this long → stale (`kube-stale-after`); 60 s unless given. */
  readonly staleAfterMs?: number;
  /** Server-side watch timeout; 300 s unless given. The watchdog allows this plus some slack. */
  readonly timeoutSeconds?: number;
  /** LIST/WATCH retry delays; 1 s doubling to 30 s, jittered, unless given. */
  readonly backoff?: BackoffLimits;
  /** At most one delivery per this many ms during a burst; 100 ms unless given. */
  readonly deliverEveryMs?: number;
  /** Objects per LIST page; 500 unless given. */
  readonly pageSize?: number;
}

type Informers = { readonly [K in KindName]: KindInformer<K> };

/** A kind's delivered array, rebuilt when the kind's change counter moved. */
interface Built<T> {
  changes: number;
  items: readonly T[];
}

/** After every kind watches again, wait at least this long for the changes a resumed watch replays before leaving stale. */
const RECOVERY_SETTLE_MS = 100;

function sortedValues<T>(values: ReadonlyMap<string, T>): T[] {
  return [...values.keys()].sort().map((k) => values.get(k)!);
}

export class KubeLiveSource implements Source<KubeSnapshot> {
  readonly name: string;
  readonly #opts: KubeLiveOptions;
  readonly #staleAfterMs: number;
  readonly #deliverEveryMs: number;
  readonly #metrics: KubeLiveMetrics;
  readonly #informers: Informers;
  readonly #built = new Map<KindName, Built<unknown>>();
  #listener: SourceListener<KubeSnapshot> | null = null;
  #started = false;
  #stopped = false;
  #allSynced = false;
  #deliverTimer: Timer | null = null;
  #lastDeliveryAt: number | null = null;
  #loads = 0;
  #stale = false;
  #staleTimer: Timer | null = null;
  #recoverTimer: Timer | null = null;

  constructor(opts: KubeLiveOptions) {
    const server = opts.kubeConfig.getCurrentCluster()?.server;
    if (!server) throw new Error('kubernetes: the kubeconfig has no current cluster (no server to watch)');
    const timeoutSeconds = opts.timeoutSeconds ?? 300;
    if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1) throw new Error(`kubernetes: timeoutSeconds must be a whole number of seconds >= 1, got ${timeoutSeconds}`);
    this.#staleAfterMs = opts.staleAfterMs ?? 60_000;
    if (!(this.#staleAfterMs > 0)) throw new Error(`kubernetes: staleAfterMs must be > 0, got ${this.#staleAfterMs}`);
    this.#deliverEveryMs = Math.max(0, opts.deliverEveryMs ?? 100);
    this.name = `kubernetes ${server}`;
    this.#opts = opts;
    this.#metrics = new KubeLiveMetrics(opts.registry, (kind) => this.#informers[kind].values.size, KIND_NAMES);
    const deps: KindInformerDeps = {
      kc: opts.kubeConfig,
      clock: opts.clock,
      log: opts.log,
      metrics: this.#metrics,
      random: opts.random ?? Math.random,
      timeoutSeconds,
      backoff: opts.backoff ?? DEFAULT_BACKOFF,
      pageSize: opts.pageSize ?? 500,
      changed: () => this.#changed(),
      stateChanged: () => this.#stateChanged(),
      outage: (kind, message) => this.#outage(kind, message),
    };
    this.#informers = {
      Namespace: new KindInformer(KIND_SPECS.Namespace, deps),
      Service: new KindInformer(KIND_SPECS.Service, deps),
      EndpointSlice: new KindInformer(KIND_SPECS.EndpointSlice, deps),
      Pod: new KindInformer(KIND_SPECS.Pod, deps),
      Sidecar: new KindInformer(KIND_SPECS.Sidecar, deps),
    };
  }

  /** Resolves at once; the first snapshot is delivered when every kind has listed. */
  async start(listener: SourceListener<KubeSnapshot>, signal: AbortSignal): Promise<void> {
    if (this.#started) throw new Error(`${this.name}: already started`);
    this.#started = true;
    if (signal.aborted) {
      this.#stopped = true;
      return;
    }
    this.#listener = listener;
    signal.addEventListener('abort', () => this.#stop(), { once: true });
    for (const kind of KIND_NAMES) this.#informers[kind].start();
  }

  status(): SourceStatus {
    const states = KIND_NAMES.map((kind) => [kind, this.#informers[kind].state] as const);
    const failing = states.find(([, s]) => s.lastError !== null);
    const waiting = states.filter(([, s]) => !s.synced).map(([kind, s]) => (s.lastError ? `${kind} (${s.lastError})` : `${kind} (listing)`));
    return {
      name: this.name,
      synced: this.#allSynced,
      version: this.#allSynced ? states.map(([kind, s]) => `${kind}=${s.resourceVersion ?? ''}`).join(',') : null,
      lastChangeAt: this.#lastDeliveryAt,
      lastError: failing ? `${failing[0]}: ${failing[1].lastError}` : null,
      loads: this.#loads,
      errors: states.reduce((n, [, s]) => n + s.outages, 0),
      detail: {
        server: this.#opts.kubeConfig.getCurrentCluster()?.server,
        stale: this.#stale,
        notSynced: waiting,
        kinds: Object.fromEntries(
          states.map(([kind, s]) => [kind, { synced: s.synced, resourceVersion: s.resourceVersion, lastEventAt: s.lastEventAt, restarts: s.restarts, lastError: s.lastError, following: s.failingSince === null, objects: s.objects, rejected: s.rejected }]),
        ),
      },
    };
  }

  #stop(): void {
    this.#stopped = true;
    for (const kind of KIND_NAMES) this.#informers[kind].stop();
    this.#deliverTimer?.cancel();
    this.#deliverTimer = null;
    this.#staleTimer?.cancel();
    this.#staleTimer = null;
    this.#recoverTimer?.cancel();
    this.#recoverTimer = null;
  }

  #changed(): void {
    if (this.#stopped || !this.#allSynced || this.#deliverTimer) return;
    const now = this.#opts.clock.now();
    const wait = this.#lastDeliveryAt === null ? 0 : Math.max(0, this.#lastDeliveryAt + this.#deliverEveryMs - now);
    // Even with no wait, deliver from a timer: the events of one network read arrive together.
    this.#deliverTimer = this.#opts.clock.setTimer(wait, () => this.#deliver());
  }

  #stateChanged(): void {
    if (this.#stopped) return;
    if (!this.#allSynced && KIND_NAMES.every((kind) => this.#informers[kind].state.synced)) {
      this.#allSynced = true;
      this.#opts.log.info({ source: this.name }, `${this.name}: every kind has listed; delivering the first snapshot`);
      this.#deliver();
    }
    this.#checkStale();
  }

  /** Each outage of a kind is one failure for the listener; its retries are not. */
  #outage(kind: KindName, message: string): void {
    if (this.#stopped || !this.#listener) return;
    try {
      this.#listener.error(new Error(`${kind}: ${message}`));
    } catch (err) {
      this.#opts.log.error({ source: this.name, err }, `${this.name}: the error listener failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  #deliver(): void {
    this.#deliverTimer?.cancel();
    this.#deliverTimer = null;
    if (this.#stopped || !this.#listener) return;
    const snapshot: KubeSnapshot = {
      namespaces: this.#items('Namespace'),
      services: this.#items('Service'),
      endpointSlices: this.#items('EndpointSlice'),
      pods: this.#items('Pod'),
      sidecars: this.#items('Sidecar'),
    };
    this.#lastDeliveryAt = this.#opts.clock.now();
    this.#loads++;
    try {
      this.#listener.data(snapshot);
    } catch (err) {
      this.#opts.log.error({ source: this.name, err }, `${this.name}: the snapshot listener failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  #items<K extends KindName>(kind: K): readonly KindValues[K][] {
    const informer = this.#informers[kind];
    const built = this.#built.get(kind) as Built<KindValues[K]> | undefined;
    if (built && built.changes === informer.changes) return built.items;
    const items = sortedValues(informer.values);
    this.#built.set(kind, { changes: informer.changes, items });
    return items;
  }

  /**
   * Stale once any kind has been failing for staleAfterMs. Current again once every kind watches
   * and the events a resumed watch sends first (what changed meanwhile) had time to arrive: the
   * world leaves kube-stale with the cluster as it is now, not as it was before the outage.
   */
  #checkStale(): void {
    if (this.#stopped) return;
    const now = this.#opts.clock.now();
    let since: number | null = null;
    for (const kind of KIND_NAMES) {
      const f = this.#informers[kind].state.failingSince;
      if (f !== null && (since === null || f < since)) since = f;
    }
    if (since === null) {
      this.#staleTimer?.cancel();
      this.#staleTimer = null;
      if (this.#stale && !this.#recoverTimer) {
        this.#recoverTimer = this.#opts.clock.setTimer(Math.max(this.#deliverEveryMs, RECOVERY_SETTLE_MS), () => {
          this.#recoverTimer = null;
          if (this.#stale) this.#setStale(false);
        });
      }
      return;
    }
    this.#recoverTimer?.cancel();
    this.#recoverTimer = null;
    const due = since + this.#staleAfterMs - now;
    if (due <= 0) {
      if (!this.#stale) this.#setStale(true);
      return;
    }
    if (!this.#staleTimer) {
      this.#staleTimer = this.#opts.clock.setTimer(due, () => {
        this.#staleTimer = null;
        this.#checkStale();
      });
    }
  }

  #setStale(stale: boolean): void {
    // Fresh data first, so the world leaves kube-stale with the cluster as it is now.
    if (!stale && this.#deliverTimer) this.#deliver();
    this.#stale = stale;
    this.#metrics.stale.set(stale ? 1 : 0);
    const failing = KIND_NAMES.filter((kind) => this.#informers[kind].state.failingSince !== null);
    if (stale) this.#opts.log.warn({ source: this.name, kinds: failing }, `${this.name}: cannot watch ${failing.join(', ')} for ${this.#staleAfterMs / 1000} s or more; the Kubernetes data is stale`);
    else this.#opts.log.warn({ source: this.name }, `${this.name}: watching every kind again; the Kubernetes data is current`);
    try {
      this.#listener?.stale(stale);
    } catch (err) {
      this.#opts.log.error({ source: this.name, err }, `${this.name}: the stale listener failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
