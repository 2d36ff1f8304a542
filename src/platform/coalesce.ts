// Quiet-period / maximum-delay debounce (the consul-k8s coalesce pattern): a burst of triggers
// becomes one flush, fired once triggers stop for `quietMs`, or at the latest `maxMs` after the
// first trigger of the burst, so a steady trickle cannot postpone writes forever. A trigger may
// bring its own, shorter window: the burst then fires by the earliest deadline any trigger set.

import type { Clock, Timer } from './clock.ts';

export class Coalescer {
  readonly #clock: Clock;
  readonly #quietMs: number;
  readonly #maxMs: number;
  readonly #flush: () => void;
  #burstStart: number | null = null;
  /** The earliest `burstStart + maxMs` of the burst's triggers. */
  #deadline = Infinity;
  #timer: Timer | null = null;

  constructor(clock: Clock, quietMs: number, maxMs: number, flush: () => void) {
    this.#clock = clock;
    this.#quietMs = Math.max(0, quietMs);
    this.#maxMs = Math.max(this.#quietMs, maxMs);
    this.#flush = flush;
  }

  get armed(): boolean {
    return this.#timer !== null;
  }

  /** Another trigger of the burst; `window` overrides the default quiet period and maximum delay for this one. */
  trigger(window?: { readonly quietMs: number; readonly maxMs: number }): void {
    const quietMs = window ? Math.max(0, window.quietMs) : this.#quietMs;
    const maxMs = window ? Math.max(quietMs, window.maxMs) : this.#maxMs;
    const now = this.#clock.now();
    this.#burstStart ??= now;
    this.#deadline = Math.min(this.#deadline, this.#burstStart + maxMs);
    const fireAt = Math.min(now + quietMs, this.#deadline);
    this.#timer?.cancel();
    this.#timer = this.#clock.setTimer(fireAt - now, () => this.#fire());
  }

  /** Fire now if armed (used by stop()). */
  flushNow(): void {
    if (this.#timer) this.#fire();
  }

  cancel(): void {
    this.#timer?.cancel();
    this.#timer = null;
    this.#burstStart = null;
    this.#deadline = Infinity;
  }

  #fire(): void {
    this.cancel();
    this.#flush();
  }
}
