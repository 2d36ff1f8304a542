// Pacing of the upstream loops, as Consul's blocking-query documentation asks of every client:
// a token bucket per watch (a watch that returns at once over and over cannot spin), and backoff
// with jitter after errors (many replicas do not retry in lockstep after an outage).

import type { Clock } from '../../platform/clock.ts';

/** Burst of `burst` requests, then one per `refillMs`. */
export class TokenBucket {
  readonly #clock: Clock;
  readonly #burst: number;
  readonly #refillMs: number;
  #tokens: number;
  #at: number;

  constructor(clock: Clock, burst = 2, refillMs = 500) {
    this.#clock = clock;
    this.#burst = burst;
    this.#refillMs = refillMs;
    this.#tokens = burst;
    this.#at = clock.now();
  }

  /** Take a token if one is there (returns 0), else how long until one is (nothing taken). */
  take(): number {
    const now = this.#clock.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + Math.max(0, now - this.#at) / this.#refillMs);
    this.#at = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - this.#tokens) * this.#refillMs));
  }
}

/** Exponential backoff with "equal jitter": each delay lies between half and all of min(max, initial * 2^n). */
export class Backoff {
  readonly #random: () => number;
  readonly #initialMs: number;
  readonly #maxMs: number;
  #attempt = 0;

  constructor(random: () => number, initialMs = 1000, maxMs = 30_000) {
    this.#random = random;
    this.#initialMs = initialMs;
    this.#maxMs = maxMs;
  }

  get failures(): number {
    return this.#attempt;
  }

  next(): number {
    const ceiling = Math.min(this.#maxMs, this.#initialMs * 2 ** Math.min(this.#attempt, 30));
    this.#attempt++;
    return Math.round(ceiling / 2 + (this.#random() * ceiling) / 2);
  }

  reset(): void {
    this.#attempt = 0;
  }
}

/** Resolve after `ms` on the clock, or at once when `signal` aborts. */
export function pause(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = (): void => {
      timer.cancel();
      resolve();
    };
    const timer = clock.setTimer(ms, () => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
