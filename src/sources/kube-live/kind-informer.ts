// One supervised informer: client-node's ListWatch for one kind, kept running.
//
// ListWatch does the list/watch bookkeeping: it resumes a watch the server ended from the last
// resourceVersion, re-lists after 410 Expired and reports the objects that went away meanwhile
// as deletes, and skips updates whose resourceVersion it already has. Around it:
// - its listFn reads the LIST page by page (list-page.ts) and its Watch streams events
//   (watch-stream.ts); both convert each object to its slim entry at once (entries.ts), so the
//   informer's cache never holds a full object;
// - any other error stops a ListWatch: the Supervisor (supervisor.ts) restarts it after a
//   jittered backoff, resuming from its last resourceVersion, and restarts it when it goes silent;
// - every (re)start is a generation: the requests of an older one are aborted, and whatever an
//   older one still produces (a LIST answer in flight, an event, an error) is dropped.
// "Synced" means a LIST succeeded and was applied, not that ListWatch.start() resolved (it
// resolves after a failed LIST too).

import { ListWatch, Watch } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesListObject } from '@kubernetes/client-node';
import type { Clock } from '../../platform/clock.ts';
import type { Logger } from '../../platform/log.ts';
import { objectLabel } from '../kubernetes/convert.ts';
import { isObject } from '../shape.ts';
import type { BackoffLimits } from './backoff.ts';
import { entryKey, toEntry, translateEvent, type Entry } from './entries.ts';
import type { KubeRequestError } from './kube-http.ts';
import type { KindName, KindSpec, KindValues } from './kinds.ts';
import { readListPage } from './list-page.ts';
import type { KubeLiveMetrics } from './metrics.ts';
import { Supervisor } from './supervisor.ts';
import { openWatch } from './watch-stream.ts';

/** Thrown into an older generation's ListWatch so that it ends without touching anything. */
class Superseded extends Error {
  constructor() {
    super('superseded by a newer start');
    this.name = 'Superseded';
  }
}

type WatchCallback = (phase: string, apiObj: unknown) => void;
type WatchDone = (err: unknown) => void;
type WatchOpener = (path: string, resourceVersion: string, callback: WatchCallback, done: WatchDone) => AbortController;

/** ListWatch opens its watches through a Watch; this one hands them to the informer. */
class InformerWatch extends Watch {
  readonly #open: WatchOpener;

  constructor(kc: KubeConfig, open: WatchOpener) {
    super(kc);
    this.#open = open;
  }

  override async watch(path: string, queryParams: Record<string, string | number | boolean | undefined>, callback: WatchCallback, done: WatchDone): Promise<AbortController> {
    const rv = queryParams['resourceVersion'];
    return this.#open(path, rv === undefined ? '' : String(rv), callback, done);
  }
}

export interface KindInformerDeps {
  readonly kc: KubeConfig;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: KubeLiveMetrics;
  readonly random: () => number;
  /** Server-side watch timeout; the watchdog allows this plus slack. */
  readonly timeoutSeconds: number;
  readonly backoff: BackoffLimits;
  /** Objects per LIST page. */
  readonly pageSize: number;
  /** The kind's values changed (called once per change; the caller coalesces). */
  readonly changed: () => void;
  /** Synced, failing, or following again. */
  readonly stateChanged: () => void;
  /** The kind went from following to failing (once per outage). */
  readonly outage: (kind: KindName, message: string) => void;
}

export interface KindState {
  readonly synced: boolean;
  readonly resourceVersion: string | null;
  readonly lastEventAt: number | null;
  /** Restarts after a failure or a stall. */
  readonly restarts: number;
  readonly lastError: string | null;
  /** Since when the kind cannot follow the server (failed or stalled, not watching again yet); null: following. */
  readonly failingSince: number | null;
  /** Times the kind went from following to failing. */
  readonly outages: number;
  readonly objects: number;
  /** Objects left out because they could not be read. */
  readonly rejected: number;
}

/** A watch that ends cleanly this soon after it opened, with no event, counts as a failed attempt for the backoff. */
const QUICK_CLOSE_MS = 1000;

export class KindInformer<K extends KindName> {
  readonly kind: K;
  readonly #spec: KindSpec<K>;
  readonly #deps: KindInformerDeps;
  readonly #supervisor: Supervisor;
  readonly #values = new Map<string, KindValues[K]>();
  #synced = false;
  #listApplied = false;
  #resourceVersion = '';
  #lastEventAt: number | null = null;
  #rejected = 0;
  #changes = 0;

  constructor(spec: KindSpec<K>, deps: KindInformerDeps) {
    this.kind = spec.kind;
    this.#spec = spec;
    this.#deps = deps;
    // The path is used verbatim: the server ends each watch after timeoutSeconds and sends bookmarks.
    const path = `${spec.path}?timeoutSeconds=${deps.timeoutSeconds}&allowWatchBookmarks=true`;
    const watch = new InformerWatch(deps.kc, (p, rv, callback, done) => this.#openWatch(p, rv, callback, done));
    const informer = new ListWatch<Entry<KindValues[K]>>(path, watch, () => this.#list(), false);
    informer.on('add', (e) => this.#put(e));
    informer.on('update', (e) => this.#put(e));
    informer.on('delete', (e) => this.#drop(e));
    informer.on('error', (err: unknown) => this.#onError(err));
    this.#supervisor = new Supervisor({
      kind: spec.kind,
      clock: deps.clock,
      log: deps.log,
      metrics: deps.metrics,
      random: deps.random,
      backoff: deps.backoff,
      timeoutSeconds: deps.timeoutSeconds,
      stateChanged: deps.stateChanged,
      outage: (message) => deps.outage(spec.kind, message),
      run: () => void informer.start().catch((err: unknown) => this.#onError(err)),
      halt: () => {
        this.#listApplied = false;
        void informer.stop();
      },
    });
  }

  /** The slim values by "namespace/name" (by name for Namespaces). */
  get values(): ReadonlyMap<string, KindValues[K]> {
    return this.#values;
  }

  /** Rises on every change of `values`. */
  get changes(): number {
    return this.#changes;
  }

  get state(): KindState {
    return {
      ...this.#supervisor.state,
      synced: this.#synced,
      resourceVersion: this.#resourceVersion === '' ? null : this.#resourceVersion,
      lastEventAt: this.#lastEventAt,
      objects: this.#values.size,
      rejected: this.#rejected,
    };
  }

  start(): void {
    this.#supervisor.start();
  }

  /** Stops for good: every request aborted, every timer cancelled, nothing reported afterwards. */
  stop(): void {
    this.#supervisor.stop();
  }

  #onError(err: unknown): void {
    if (err instanceof Superseded) return;
    this.#supervisor.fail('error', err);
  }

  readonly #onRejected = (raw: unknown, err: unknown): void => {
    this.#rejected++;
    const label = isObject(raw) ? objectLabel({ ...raw, kind: this.kind }) : this.kind;
    this.#deps.log.warn({ kind: this.kind, object: label }, `kubernetes ${label} cannot be read and is left out: ${err instanceof Error ? err.message : String(err)}`);
  };

  /** ListWatch's listFn: every page, converted as it arrives. */
  async #list(): Promise<KubernetesListObject<Entry<KindValues[K]>>> {
    const generation = this.#supervisor.generation;
    const signal = this.#supervisor.signal;
    const items: Entry<KindValues[K]>[] = [];
    let resourceVersion = '';
    let continueToken: string | undefined;
    try {
      do {
        const page = await readListPage(this.#deps.kc, this.#spec.path, this.#deps.pageSize, continueToken, signal);
        if (!this.#supervisor.isCurrent(generation)) throw new Superseded();
        this.#supervisor.alive();
        for (const raw of page.items) items.push(toEntry(this.#spec, raw, false, this.#onRejected));
        resourceVersion = page.resourceVersion;
        continueToken = page.continueToken;
      } while (continueToken !== undefined);
    } catch (err) {
      if (!this.#supervisor.isCurrent(generation)) throw new Superseded();
      throw err;
    }
    // ListWatch applies the items right after this returns, then opens the watch (#openWatch).
    // A complete LIST is fresh data: the kind follows the server again.
    this.#supervisor.following();
    this.#listApplied = true;
    this.#resourceVersion = resourceVersion;
    return { metadata: { resourceVersion }, items };
  }

  #openWatch(path: string, resourceVersion: string, callback: WatchCallback, done: WatchDone): AbortController {
    const supervisor = this.#supervisor;
    const generation = supervisor.generation;
    const current = () => supervisor.isCurrent(generation);
    const controller = new AbortController();
    if (!current()) {
      controller.abort();
      return controller;
    }
    if (this.#listApplied) {
      this.#listApplied = false;
      if (!this.#synced) {
        this.#synced = true;
        this.#deps.log.info({ kind: this.kind, objects: this.#values.size, resourceVersion }, `kubernetes ${this.kind}: synced`);
        this.#deps.stateChanged();
      }
    }
    const { clock, metrics } = this.#deps;
    const openedAt = clock.now();
    let events = 0;
    let expired = false;
    const signal = AbortSignal.any([supervisor.signal, controller.signal]);
    const ended = (err: KubeRequestError | null): void => {
      supervisor.alive();
      // Failures are counted where they are handled (Supervisor.fail); clean ends and expiries here.
      if (err?.statusCode === 410 || (!err && expired)) metrics.restarts.inc({ kind: this.kind, reason: 'expired' });
      else if (!err) metrics.restarts.inc({ kind: this.kind, reason: 'closed' });
      if (!err && !expired && events === 0 && clock.now() - openedAt < Math.min(QUICK_CLOSE_MS, this.#deps.timeoutSeconds * 500)) {
        // A server that ends every watch at once must not be asked again in a tight loop.
        const timer = clock.setTimer(supervisor.nextDelay(), () => {
          if (current()) done(null);
        });
        signal.addEventListener('abort', () => timer.cancel(), { once: true });
        return;
      }
      done(err);
    };
    openWatch(this.#deps.kc, path, resourceVersion, signal, {
      connected: () => {
        if (!current()) return;
        supervisor.alive();
        supervisor.following();
      },
      event: (type, object) => {
        if (!current()) return;
        events++;
        supervisor.alive();
        this.#lastEventAt = clock.now();
        metrics.events.inc({ kind: this.kind, type });
        try {
          const event = translateEvent(this.#spec, type, object, this.#onRejected);
          expired ||= event.expired;
          callback(type, event.object);
          if (event.resourceVersion) this.#resourceVersion = event.resourceVersion;
        } catch (err) {
          controller.abort();
          supervisor.fail('error', err);
        }
      },
      done: (err) => {
        if (current()) ended(err);
      },
    }).catch((err: unknown) => {
      if (current()) done(err);
    });
    return controller;
  }

  #put(e: Entry<KindValues[K]>): void {
    if (!this.#supervisor.running) return;
    if (e.value === null) {
      this.#drop(e);
      return;
    }
    this.#values.set(entryKey(e), e.value);
    this.#changes++;
    this.#deps.changed();
  }

  #drop(e: Entry<KindValues[K]>): void {
    if (!this.#supervisor.running) return;
    if (!this.#values.delete(entryKey(e))) return;
    this.#changes++;
    this.#deps.changed();
  }
}
