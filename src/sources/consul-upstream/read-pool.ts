// The pool of non-blocking requests: a fixed number of connections' worth of jobs at a time.
// A summaries read (it locates a change) goes before everything, then full reads and node reads;
// index probes fill the remaining capacity at a capped rate. A job asked for while it runs runs once more afterwards (the answer in flight may predate
// the change that asked for it); a job asked for while queued is not queued twice.

import type { Clock, Timer } from '../../platform/clock.ts';

export type JobKind = 'read' | 'probe' | 'node-services' | 'node-health' | 'summaries';

export interface PoolJob {
  readonly kind: JobKind;
  /** A service key (read, probe), a node name, or '' (summaries). */
  readonly key: string;
}

function jobId(job: PoolJob): string {
  return `${job.kind}\0${job.key}`;
}

export class ReadPool {
  readonly #clock: Clock;
  readonly #size: number;
  readonly #run: (job: PoolJob) => Promise<void>;
  /** Summaries reads: they decide what else to read, so they jump the queue. */
  readonly #front = new Map<string, PoolJob>();
  readonly #urgent = new Map<string, PoolJob>();
  readonly #probes = new Map<string, PoolJob>();
  readonly #running = new Set<string>();
  readonly #again = new Set<string>();
  readonly #delayed = new Set<Timer>();
  #pausedUntil = 0;
  #pumpTimer: Timer | null = null;
  #probeRate = 1;
  #probeCredit = 0;
  #creditAt: number;
  #idleWaiters: (() => void)[] = [];
  #stopped = false;

  constructor(clock: Clock, size: number, run: (job: PoolJob) => Promise<void>) {
    this.#clock = clock;
    this.#size = Math.max(1, size);
    this.#run = run;
    this.#creditAt = clock.now();
  }

  get size(): number {
    return this.#size;
  }

  /** Jobs other than probes queued or running. */
  get urgentPending(): number {
    let running = 0;
    for (const id of this.#running) if (!id.startsWith('probe\0')) running++;
    return this.#front.size + this.#urgent.size + running;
  }

  get probesQueued(): number {
    return this.#probes.size;
  }

  /** Index probes start at most this many per second. */
  setProbeRate(perSecond: number): void {
    this.#refillCredit();
    this.#probeRate = Math.max(1, perSecond);
    this.#pump();
  }

  add(job: PoolJob): void {
    if (this.#stopped) return;
    const id = jobId(job);
    if (this.#running.has(id)) {
      if (job.kind !== 'probe') this.#again.add(id);
      return;
    }
    if (job.kind === 'probe') this.#probes.set(id, job);
    else if (job.kind === 'summaries') this.#front.set(id, job);
    else this.#urgent.set(id, job);
    this.#pump();
  }

  /** Ask for a job after `ms` (a retry after a failure). */
  later(job: PoolJob, ms: number): void {
    if (this.#stopped) return;
    const timer = this.#clock.setTimer(ms, () => {
      this.#delayed.delete(timer);
      this.add(job);
    });
    this.#delayed.add(timer);
  }

  /** Start nothing new for `ms` (the upstream is failing); jobs stay queued. */
  pauseFor(ms: number): void {
    this.#pausedUntil = Math.max(this.#pausedUntil, this.#clock.now() + ms);
    this.#schedulePump(ms);
  }

  /** Resolves once no job other than a probe is queued or running. */
  whenUrgentDone(): Promise<void> {
    if (this.urgentPending === 0 || this.#stopped) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  stop(): void {
    this.#stopped = true;
    this.#front.clear();
    this.#urgent.clear();
    this.#probes.clear();
    this.#pumpTimer?.cancel();
    this.#pumpTimer = null;
    for (const t of this.#delayed) t.cancel();
    this.#delayed.clear();
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  #refillCredit(): void {
    const now = this.#clock.now();
    // A burst of at most one pool's worth of probes, then the rate.
    this.#probeCredit = Math.min(this.#size, this.#probeCredit + ((now - this.#creditAt) * this.#probeRate) / 1000);
    this.#creditAt = now;
  }

  #pump(): void {
    if (this.#stopped) return;
    const now = this.#clock.now();
    if (now < this.#pausedUntil) return this.#schedulePump(this.#pausedUntil - now);
    while (this.#running.size < this.#size) {
      let job = first(this.#front) ?? first(this.#urgent);
      if (job) {
        this.#front.delete(jobId(job));
        this.#urgent.delete(jobId(job));
      } else if (this.#probes.size > 0) {
        this.#refillCredit();
        if (this.#probeCredit < 1) {
          this.#schedulePump(Math.ceil(((1 - this.#probeCredit) * 1000) / this.#probeRate));
          return;
        }
        this.#probeCredit -= 1;
        job = first(this.#probes)!;
        this.#probes.delete(jobId(job));
      } else return;
      this.#start(job);
    }
  }

  #schedulePump(ms: number): void {
    if (this.#pumpTimer || this.#stopped) return;
    this.#pumpTimer = this.#clock.setTimer(Math.max(1, ms), () => {
      this.#pumpTimer = null;
      this.#pump();
    });
  }

  #start(job: PoolJob): void {
    const id = jobId(job);
    this.#running.add(id);
    void this.#run(job)
      .catch(() => undefined)
      .finally(() => {
        this.#running.delete(id);
        if (this.#again.delete(id)) this.add(job);
        this.#pump();
        if (this.urgentPending === 0) {
          const waiters = this.#idleWaiters;
          this.#idleWaiters = [];
          for (const w of waiters) w();
        }
      });
  }
}

function first<T>(m: Map<string, T>): T | undefined {
  for (const v of m.values()) return v;
  return undefined;
}
