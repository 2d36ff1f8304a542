// Keeps one informer running: restarts it after a failure with a jittered backoff, restarts it
// when it goes silent (watchdog), and counts every (re)start as a generation. Whatever belongs to
// an older generation is cut off: its signal is aborted (its requests end) and `isCurrent` tells
// its late callbacks to do nothing. It also tracks whether the informer follows the server:
// failing from the first failure until a watch is open again.

import type { Clock, Timer } from '../../platform/clock.ts';
import type { Logger } from '../../platform/log.ts';
import { Backoff, type BackoffLimits } from './backoff.ts';
import type { KindName } from './kinds.ts';
import type { KubeLiveMetrics } from './metrics.ts';
import { Watchdog } from './watchdog.ts';

export interface SupervisorDeps {
  readonly kind: KindName;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: KubeLiveMetrics;
  readonly random: () => number;
  readonly backoff: BackoffLimits;
  /** Server-side watch timeout; the watchdog allows this plus slack. */
  readonly timeoutSeconds: number;
  /** Starts the informer (a new generation is current). */
  readonly run: () => void;
  /** Stops the informer (the generation that ran it is over). */
  readonly halt: () => void;
  /** Failing, or following again. */
  readonly stateChanged: () => void;
  /** The informer went from following to failing (once per outage, not per retry). */
  readonly outage: (message: string) => void;
}

export class Supervisor {
  readonly #deps: SupervisorDeps;
  readonly #backoff: Backoff;
  readonly #watchdog: Watchdog;
  #generation = 0;
  #abort = new AbortController();
  #running = false;
  #retryTimer: Timer | null = null;
  #followingSince: number | null = null;
  #failingSince: number | null = null;
  #lastError: string | null = null;
  #restarts = 0;
  #outages = 0;

  constructor(deps: SupervisorDeps) {
    this.#deps = deps;
    this.#backoff = new Backoff(deps.backoff, deps.random);
    const timeoutMs = deps.timeoutSeconds * 1000;
    const limitMs = timeoutMs + Math.min(30_000, Math.max(1000, timeoutMs / 5));
    this.#watchdog = new Watchdog(deps.clock, limitMs, (silent) =>
      this.fail('stall', new Error(`no answer and no event for ${(silent / 1000).toFixed(1)} s (watch timeout ${deps.timeoutSeconds} s)`)),
    );
  }

  get generation(): number {
    return this.#generation;
  }

  /** Aborted when the current generation ends. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Started and not stopped. */
  get running(): boolean {
    return this.#running;
  }

  isCurrent(generation: number): boolean {
    return this.#running && generation === this.#generation;
  }

  get state() {
    return { failingSince: this.#failingSince, lastError: this.#lastError, restarts: this.#restarts, outages: this.#outages };
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#run();
  }

  /** Stops for good: the generation ends and no timer is left. */
  stop(): void {
    if (!this.#running) return;
    this.#running = false;
    this.#retire();
    this.#retryTimer?.cancel();
    this.#retryTimer = null;
    this.#watchdog.stop();
  }

  /** A sign of life: a LIST page, a watch opened or ended, an event. */
  alive(): void {
    this.#watchdog.alive();
  }

  /** The next backoff delay (also for a watch that the server keeps ending at once). */
  nextDelay(): number {
    return this.#backoff.next();
  }

  /** A LIST succeeded or a watch is open: the informer follows the server again. */
  following(): void {
    const now = this.#deps.clock.now();
    this.#followingSince ??= now;
    if (this.#failingSince === null) return;
    const kind = this.#deps.kind;
    this.#deps.log.info({ kind, failedForMs: now - this.#failingSince }, `kubernetes ${kind}: watching again`);
    this.#failingSince = null;
    this.#lastError = null;
    this.#deps.stateChanged();
  }

  /** Ends the generation and starts a new one after the backoff. */
  fail(reason: 'error' | 'stall', err: unknown): void {
    if (!this.#running) return;
    const { clock, kind, log, metrics } = this.#deps;
    const now = clock.now();
    this.#retire();
    this.#watchdog.stop();
    // After a good stretch of following, the backoff starts afresh.
    if (this.#followingSince !== null && now - this.#followingSince >= this.#deps.backoff.maxMs) this.#backoff.reset();
    this.#followingSince = null;
    const delay = this.#backoff.next();
    const message = err instanceof Error ? err.message : String(err);
    this.#lastError = message;
    this.#restarts++;
    metrics.restarts.inc({ kind, reason });
    const fields = { kind, reason, retryInMs: delay, err: message };
    if (this.#failingSince === null) {
      this.#failingSince = now;
      this.#outages++;
      log.warn(fields, `kubernetes ${kind}: ${message}; retrying in ${delay} ms`);
      this.#deps.outage(message);
    } else {
      log.debug(fields, `kubernetes ${kind}: still failing: ${message}; retrying in ${delay} ms`);
    }
    this.#retryTimer = clock.setTimer(delay, () => this.#run());
    this.#deps.stateChanged();
  }

  #run(): void {
    this.#retryTimer = null;
    if (!this.#running) return;
    this.#watchdog.start();
    this.#deps.run();
  }

  #retire(): void {
    this.#generation++;
    this.#abort.abort();
    this.#abort = new AbortController();
    this.#deps.halt();
  }
}
