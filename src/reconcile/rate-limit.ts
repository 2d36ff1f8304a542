// Token bucket for sink writes: at most `perSecond` on average, bursts up to one second's worth.
// Every Sidecar write makes istiod push to the proxies it selects, so writes are metered.

import type { Clock } from '../platform/clock.ts';

export class WriteBudget {
  readonly #clock: Clock;
  readonly #rate: number;
  #tokens: number;
  #at: number;

  constructor(clock: Clock, perSecond: number) {
    this.#clock = clock;
    this.#rate = Math.max(perSecond, 0.001);
    this.#tokens = Math.max(1, this.#rate);
    this.#at = clock.now();
  }

  #refill(): void {
    const now = this.#clock.now();
    this.#tokens = Math.min(Math.max(1, this.#rate), this.#tokens + ((now - this.#at) / 1000) * this.#rate);
    this.#at = now;
  }

  /** Take up to `want` whole tokens; returns how many were granted. */
  take(want: number): number {
    this.#refill();
    const n = Math.min(want, Math.floor(this.#tokens));
    this.#tokens -= n;
    return n;
  }

  /** Milliseconds until at least one token is available. */
  waitMs(): number {
    this.#refill();
    return this.#tokens >= 1 ? 0 : Math.ceil(((1 - this.#tokens) / this.#rate) * 1000);
  }
}
