// The hot set: the most looked-up services each get their own blocking watch on
// /v1/health/service/:s?stale&cached, so their changes arrive as soon as the agent sees them. The
// set is chosen again every 30 s from the lookup ranking, with hysteresis (chooseHot).

import type { Clock, Timer } from '../../platform/clock.ts';
import type { AnswerInfo, WatchDeps } from './blocking-watch.ts';
import { BlockingWatch } from './blocking-watch.ts';
import type { CatalogModel } from './catalog-model.ts';
import { chooseHot } from './change-detection.ts';

export const HOT_REFRESH_MS = 30_000;

export interface HotWatchesDeps {
  readonly watchDeps: WatchDeps;
  readonly clock: Clock;
  readonly capacity: number;
  /** Service names, most looked-up first. */
  readonly ranked: () => readonly string[];
  readonly model: CatalogModel;
  readonly signal: AbortSignal;
  readonly onAnswer: (key: string, body: unknown, info: AnswerInfo) => void;
  /** A service left the hot set: the pool follows it again from now on. */
  readonly onDropped: (key: string) => void;
}

export class HotWatches {
  readonly #deps: HotWatchesDeps;
  readonly #watches = new Map<string, BlockingWatch>();
  #timer: Timer | null = null;

  constructor(deps: HotWatchesDeps) {
    this.#deps = deps;
  }

  get size(): number {
    return this.#watches.size;
  }

  has(key: string): boolean {
    return this.#watches.has(key);
  }

  /** Choose the set again now, and every HOT_REFRESH_MS from now on. */
  refresh(): void {
    this.#timer?.cancel();
    this.#timer = null;
    if (this.#deps.signal.aborted || this.#deps.capacity <= 0) return;
    const { model } = this.#deps;
    const ranked: string[] = [];
    const seen = new Set<string>();
    for (const name of this.#deps.ranked()) {
      const key = name.toLowerCase();
      if (seen.has(key) || !model.has(key) || !model.hasData(key)) continue;
      seen.add(key);
      ranked.push(key);
    }
    const next = chooseHot(new Set(this.#watches.keys()), ranked, this.#deps.capacity);
    for (const key of [...this.#watches.keys()]) if (!next.has(key)) this.remove(key);
    for (const key of next) if (!this.#watches.has(key)) this.#start(key);
    this.#timer = this.#deps.clock.setTimer(HOT_REFRESH_MS, () => this.refresh());
  }

  /** Stop the watch of a service (gone, or no longer hot). */
  remove(key: string): void {
    const watch = this.#watches.get(key);
    if (!watch) return;
    watch.stop();
    this.#watches.delete(key);
    this.#deps.onDropped(key);
  }

  /** Start every watch over from a plain read (the upstream's indexes went backwards). */
  restartAll(): void {
    for (const [key, watch] of [...this.#watches]) {
      watch.stop();
      this.#watches.delete(key);
      this.#start(key);
    }
  }

  stop(): void {
    this.#timer?.cancel();
    this.#timer = null;
    for (const watch of this.#watches.values()) watch.stop();
    this.#watches.clear();
  }

  #start(key: string): void {
    const name = this.#deps.model.nameOf(key);
    if (name === undefined) return;
    const watch = new BlockingWatch(
      this.#deps.watchDeps,
      {
        kind: 'hot',
        path: `/v1/health/service/${encodeURIComponent(name)}`,
        params: 'stale&cached',
        startIndex: this.#deps.model.indexOf(key),
        onAnswer: (body, info) => this.#deps.onAnswer(key, body, info),
      },
      this.#deps.signal,
    );
    this.#watches.set(key, watch);
    watch.start();
  }
}
