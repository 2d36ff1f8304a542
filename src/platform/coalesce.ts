// Quiet-period / maximum-delay debounce (the consul-k8s coalesce pattern): a burst of triggers
// becomes one flush, fired once triggers stop for `quietMs`, or at the latest `maxMs` after the
// first trigger of the burst, so a steady trickle cannot postpone writes forever.

import type { Clock, Timer } from './clock.ts';

export class Coalescer {
  readonly #clock: Clock;
  readonly #quietMs: number;
  readonly #maxMs: number;
  readonly #flush: () => void;
  #burstStart: number | null = null;
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

  trigger(): void {
    const now = this.#clock.now();
    this.#burstStart ??= now;
    const fireAt = Math.min(now + this.#quietMs, this.#burstStart + this.#maxMs);
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
  }

  #fire(): void {
    this.cancel();
    this.#flush();
  }
}
