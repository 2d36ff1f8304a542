// Follows the upstream catalog with the layout of docs/adr/0008-consul-watch-layout.md: three wide
// blocking watches say what changed (the service list, the non-passing checks, the node list), the
// pool reads what they name in full, hot services have their own blocking watch, a read of the
// service summaries locates a change the watches could not name, and index probes are the last
// resort. Everything lands in the CatalogModel; the source decides when to deliver.

import { setMaxListeners } from 'node:events';
import type { Clock, Timer } from '../../platform/clock.ts';
import type { Logger } from '../../platform/log.ts';
import type { AnswerInfo, RequestKind, WatchDeps } from './blocking-watch.ts';
import { BlockingWatch } from './blocking-watch.ts';
import type { CatalogModel } from './catalog-model.ts';
import type { CheckStates } from './change-detection.ts';
import { checkStates, diffCheckStates } from './change-detection.ts';
import { HotWatches } from './hot-watches.ts';
import { PoolJobs } from './pool-jobs.ts';
import type { ReadPool } from './read-pool.ts';
import type { UpstreamHttp } from './upstream-http.ts';
import type { OutcomeClass } from './upstream-monitor.ts';
import type { Conversion } from './upstream-json.ts';
import { readCheckStates, readNodes, readServiceInstances, readServiceList } from './upstream-json.ts';

const HEALTH_FILTER = 'Status != "passing"';
/** Probes per second while looking for an unlocated change (docs/adr/0008-consul-watch-layout.md). */
const FAST_PROBES_PER_SECOND = 2000;
/** How long the other watches get to name a change the service list shows before it counts as unlocated. */
const LOCATE_GRACE_MS = 50;
/** How many recent service indexes are kept to place unlocated changes by. */
const RECENT_SERVICE_INDEXES = 1024;
/** Index resets seen by several watches within this window are one reset. */
const RESET_DEDUPE_MS = 1000;

export interface FollowerDeps {
  readonly name: string;
  readonly http: UpstreamHttp;
  readonly clock: Clock;
  readonly random: () => number;
  readonly log: Logger;
  readonly waitMs: number;
  readonly probeSweepMs: number;
  readonly poolSize: number;
  readonly hotCapacity: number;
  readonly hotServices: () => readonly string[];
  readonly model: CatalogModel;
  readonly conv: Conversion;
  readonly record: (kind: RequestKind, path: string, startedAt: number, err: unknown) => OutcomeClass;
  /** The model changed (after the first sync). */
  readonly changed: () => void;
  /** The model is complete for the first time. */
  readonly synced: () => void;
}

export class CatalogFollower {
  readonly #deps: FollowerDeps;
  readonly #model: CatalogModel;
  readonly #abort = new AbortController();
  readonly #watchDeps: WatchDeps;
  readonly #jobs: PoolJobs;
  readonly #pool: ReadPool;
  readonly #hot: HotWatches;
  readonly #baselines = new Set<'services' | 'health' | 'nodes'>();
  #checks: CheckStates = new Map();
  #readsStarted = false;
  #synced = false;
  /** Upstream catalog index (the service list's). */
  #servicesIndex = 0;
  /** Bumped when an upstream index goes backwards: answers to requests sent before are dropped. */
  #epoch = 0;
  /**
   * Service indexes reads, probes and hot watches saw lately (the last RECENT_SERVICE_INDEXES). A
   * service answering with exactly the service list's index is the one the write that moved the
   * list changed; a higher index is a later change of some service, and places nothing.
   */
  #seenIndexes = new Set<number>();
  /** Service-list indexes that moved with nothing named and are not placed yet. */
  #unlocated = new Set<number>();
  #locateTimer: Timer | null = null;
  /**
   * The service summaries as last read (null: not read yet, or the upstream refused them). The
   * next read's difference names the services whose instances, nodes, tags or check counts moved.
   */
  #summaries: ReadonlyMap<string, string> | null = null;
  /** Unlocated service-list indexes waiting for the summaries read in flight. */
  #locating: number[] = [];
  #summariesWarned = false;
  #lastResetAt = -Infinity;
  #movedSinceSweep = false;
  #sweepTimer: Timer | null = null;
  #datacenterWarned = false;

  constructor(deps: FollowerDeps) {
    // Every watch and every request of the pool listens on this signal: far more than the default 10.
    setMaxListeners(0, this.#abort.signal);
    this.#deps = deps;
    this.#model = deps.model;
    this.#watchDeps = { http: deps.http, clock: deps.clock, random: deps.random, waitMs: deps.waitMs, outcome: (kind, path, startedAt, err) => void deps.record(kind, path, startedAt, err) };
    this.#jobs = new PoolJobs(
      deps,
      {
        epoch: () => this.#epoch,
        synced: () => this.#synced,
        isHot: (key) => this.#hot.has(key),
        requestRead: (key) => this.#requestRead(key),
        noteServiceIndex: (index) => this.#noteServiceIndex(index),
        checkDatacenter: () => this.#checkDatacenter(),
        maybeSynced: () => this.#maybeSynced(),
        summaries: (summaries) => this.#onSummaries(summaries),
      },
      this.#abort.signal,
    );
    this.#pool = this.#jobs.pool;
    this.#hot = new HotWatches({
      watchDeps: this.#watchDeps,
      clock: deps.clock,
      capacity: deps.hotCapacity,
      ranked: deps.hotServices,
      model: deps.model,
      signal: this.#abort.signal,
      onAnswer: (key, body, info) => this.#onHot(key, body, info),
      onDropped: (key) => this.#pool.add({ kind: 'probe', key }),
    });
  }

  get servicesIndex(): number {
    return this.#servicesIndex;
  }

  get hotCount(): number {
    return this.#hot.size;
  }

  start(): void {
    const watch = (kind: RequestKind, path: string, params: string, refillMs: number, onAnswer: (body: unknown, info: AnswerInfo) => void): void =>
      new BlockingWatch(this.#watchDeps, { kind, path, params, refillMs, onAnswer }, this.#abort.signal).start();
    // The service list and the non-passing checks are small answers that name most changes: under
    // a stream of changes they may come back every 250 ms. The node list carries every node (a
    // megabyte at 6,000 nodes) and moves less often: every 500 ms at most.
    watch('services', '/v1/catalog/services', 'stale', 250, (body, info) => this.#onServices(body, info));
    watch('health-state', '/v1/health/state/any', `stale&filter=${encodeURIComponent(HEALTH_FILTER)}`, 250, (body, info) => this.#onHealth(body, info));
    watch('nodes', '/v1/catalog/nodes', 'stale', 500, (body, info) => this.#onNodes(body, info));
  }

  stop(): void {
    this.#abort.abort();
    this.#pool.stop();
    this.#hot.stop();
    this.#sweepTimer?.cancel();
    this.#sweepTimer = null;
    this.#locateTimer?.cancel();
    this.#locateTimer = null;
  }

  /** The upstream answers again after an outage: catch up on what the watches may have missed. */
  recovered(): void {
    this.#sweep('recovered');
  }

  // ---- the wide watches --------------------------------------------------------------------

  #onServices(body: unknown, info: AnswerInfo): void {
    const listed = readServiceList(body);
    this.#noteWatch(info);
    this.#servicesIndex = info.index;
    const { named, removed } = this.#model.setServiceList(listed);
    for (const key of removed) {
      this.#hot.remove(key);
      this.#jobs.forget(key);
    }
    if (this.#baseline('services')) return;
    if (this.#readsStarted) for (const key of named) this.#requestRead(key);
    if (removed.length > 0 && this.#synced) this.#deps.changed();
    const moved = info.previous > 0 && info.index !== info.previous;
    // A wake-up after a pause may hold several changes, so what it names may not be all of them.
    if (this.#synced && moved && (!info.parked || (named.length === 0 && removed.length === 0))) this.#suspectUnlocated(info.index);
    this.#maybeSynced();
  }

  #onHealth(body: unknown, info: AnswerInfo): void {
    const next = checkStates(readCheckStates(body));
    this.#noteWatch(info);
    const before = this.#checks;
    this.#checks = next;
    if (this.#baseline('health') || !this.#readsStarted) return;
    const named = diffCheckStates(before, next);
    for (const key of named.services) this.#requestRead(key);
    for (const node of named.nodes) this.#nodeNamed(node);
  }

  #onNodes(body: unknown, info: AnswerInfo): void {
    const nodes = readNodes(body, this.#deps.conv);
    this.#checkDatacenter();
    this.#noteWatch(info);
    const changed = this.#model.setNodes(nodes);
    if (this.#baseline('nodes') || !this.#readsStarted) return;
    for (const node of changed) this.#pool.add({ kind: 'node-services', key: node });
    if (changed.length > 0 && this.#synced) this.#deps.changed();
  }

  #onHot(key: string, body: unknown, info: AnswerInfo): void {
    const read = readServiceInstances(body, this.#deps.conv);
    this.#checkDatacenter();
    this.#noteWatch(info);
    this.#noteServiceIndex(info.index);
    if (info.index < this.#model.indexOf(key)) return;
    if (this.#model.applyService(key, read.instances, info.index) && this.#synced) this.#deps.changed();
  }

  /** Bookkeeping common to every watch answer: index resets, and whether anything moved upstream. */
  #noteWatch(info: AnswerInfo): void {
    if (info.backwards) this.#indexReset();
    if (info.previous > 0 && info.index !== info.previous) this.#movedSinceSweep = true;
  }

  #baseline(which: 'services' | 'health' | 'nodes'): boolean {
    if (this.#baselines.has(which)) return false;
    this.#baselines.add(which);
    // Full reads start once all three watches have a first answer, so no change can fall between
    // a watch's first answer and the reads it would otherwise have to name.
    if (this.#baselines.size === 3 && !this.#readsStarted) {
      this.#readsStarted = true;
      // The summaries' baseline goes out before the reads: a change after it shows in the next
      // summaries, one before it in the reads.
      this.#pool.add({ kind: 'summaries', key: '' });
      for (const key of this.#model.keys()) this.#requestRead(key);
      this.#maybeSynced();
    }
    return true;
  }

  /** A node-level check changed: every service on the node changed; a node without services needs its checks read. */
  #nodeNamed(node: string): void {
    const services = this.#model.servicesOnNode(node);
    for (const key of services) this.#requestRead(key);
    if (services.length === 0 && this.#model.nodeListed(node)) this.#pool.add({ kind: 'node-health', key: node });
  }

  #requestRead(key: string): void {
    if (!this.#model.has(key) || this.#hot.has(key)) return;
    this.#pool.add({ kind: 'read', key });
  }

  /** Every watch sees a restore at about the same time: the first one starts the re-read, the others add nothing. */
  #indexReset(): void {
    const now = this.#deps.clock.now();
    if (now - this.#lastResetAt < RESET_DEDUPE_MS) return;
    this.#lastResetAt = now;
    this.#epoch++;
    this.#seenIndexes.clear();
    this.#model.resetIndexes();
    this.#deps.log.info({ source: this.#deps.name }, `${this.#deps.name}: an upstream index went backwards (a restored snapshot); reading every service again`);
    this.#hot.restartAll();
    if (this.#synced) this.#sweep('index-reset');
    else if (this.#readsStarted) for (const key of this.#model.keys()) this.#requestRead(key);
  }

  #checkDatacenter(): void {
    const foreign = this.#deps.conv.foreignDatacenter;
    if (foreign === null || this.#datacenterWarned) return;
    this.#datacenterWarned = true;
    this.#deps.log.warn({ source: this.#deps.name, upstream: foreign }, `${this.#deps.name}: the upstream reports datacenter ${JSON.stringify(foreign)}, Discovery answers as ${JSON.stringify(this.#deps.conv.datacenter)}`);
  }

  // ---- sync and sweeps ---------------------------------------------------------------------

  #maybeSynced(): void {
    if (this.#synced || !this.#readsStarted || this.#abort.signal.aborted || !this.#model.servicesComplete()) return;
    const missing = this.#model.nodesWithoutChecks();
    if (missing.length > 0) {
      for (const node of missing) this.#pool.add({ kind: 'node-health', key: node });
      return;
    }
    this.#synced = true;
    this.#deps.synced();
    this.#hot.refresh();
    this.#scheduleSweep();
  }

  #scheduleSweep(): void {
    this.#sweepTimer = this.#deps.clock.setTimer(this.#deps.probeSweepMs, () => {
      // Nothing moved upstream since the last sweep: nothing for a sweep to find.
      if (this.#movedSinceSweep) this.#sweep('periodic');
      // Summaries the upstream refused are asked for again now and then (an ACL policy may have been fixed).
      if (this.#summaries === null) this.#pool.add({ kind: 'summaries', key: '' });
      this.#scheduleSweep();
    });
  }

  /** Probe every service without a hot watch: the periodic sweep spread over its period, the others at the unlocated-change rate. */
  #sweep(reason: 'periodic' | 'unlocated' | 'recovered' | 'index-reset'): void {
    if (!this.#synced || this.#abort.signal.aborted) return;
    this.#movedSinceSweep = false;
    const keys = [...this.#model.keys()].filter((k) => !this.#hot.has(k) && this.#model.hasData(k));
    this.#deps.log.debug({ source: this.#deps.name, reason, services: keys.length }, `${this.#deps.name}: index-probe sweep (${reason})`);
    if (reason !== 'periodic') this.#pool.setProbeRate(FAST_PROBES_PER_SECOND);
    else if (this.#pool.probesQueued === 0) this.#pool.setProbeRate(keys.length / ((0.9 * this.#deps.probeSweepMs) / 1000));
    for (const key of keys) this.#pool.add({ kind: 'probe', key });
  }

  /**
   * The service list moved and may hold a change nothing named: unless a read placed it
   * meanwhile, the service summaries locate it, and if they cannot (an instance changed in place,
   * or the upstream refuses them), an index-probe sweep does.
   */
  #suspectUnlocated(index: number): void {
    this.#unlocated.add(index);
    if (this.#locateTimer) return;
    this.#locateTimer = this.#deps.clock.setTimer(LOCATE_GRACE_MS, () => {
      this.#locateTimer = null;
      const pending = [...this.#unlocated].filter((at) => !this.#seenIndexes.has(at));
      this.#unlocated.clear();
      if (pending.length === 0) return;
      if (this.#summaries !== null) {
        // One request, ahead of the queue: cheaper than waiting for the reads queued meanwhile.
        this.#locating.push(...pending);
        this.#pool.add({ kind: 'summaries', key: '' });
        return;
      }
      // No summaries: a sweep costs a request per service, so first let the queued reads place it.
      void this.#pool.whenUrgentDone().then(() => {
        if (pending.some((at) => !this.#seenIndexes.has(at))) this.#sweep('unlocated');
      });
    });
  }

  #onSummaries(next: ReadonlyMap<string, string> | null): void {
    const before = this.#summaries;
    this.#summaries = next;
    if (next === null) {
      if (!this.#summariesWarned) {
        this.#summariesWarned = true;
        this.#deps.log.warn({ source: this.#deps.name }, `${this.#deps.name}: cannot read the service summaries (GET /v1/internal/ui/services); changes no watch names are found by index probes, which take longer`);
      }
    } else if (before !== null && this.#readsStarted) {
      for (const [key, entry] of next) if (before.get(key) !== entry) this.#requestRead(key);
      for (const key of before.keys()) if (!next.has(key)) this.#requestRead(key);
    }
    const waiting = this.#locating;
    if (waiting.length === 0) return;
    this.#locating = [];
    if (next === null) {
      this.#sweep('unlocated');
      return;
    }
    // Once the reads the summaries named are back, a change still unplaced did not move its
    // summary (an instance changed in place): only probes can find it.
    void this.#pool.whenUrgentDone().then(() => {
      if (waiting.some((at) => !this.#seenIndexes.has(at))) this.#sweep('unlocated');
    });
  }

  #noteServiceIndex(index: number): void {
    this.#seenIndexes.delete(index);
    this.#seenIndexes.add(index);
    if (this.#seenIndexes.size > RECENT_SERVICE_INDEXES) {
      const oldest = this.#seenIndexes.values().next().value;
      if (oldest !== undefined) this.#seenIndexes.delete(oldest);
    }
  }
}
