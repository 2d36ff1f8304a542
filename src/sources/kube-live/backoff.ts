// Retry delays for a failed LIST or WATCH: exponential from `initialMs` up to `maxMs`, each delay
// drawn between half and all of its step so that replicas restarting together spread out instead
// of hitting the API server in lockstep.

export interface BackoffLimits {
  readonly initialMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffLimits = { initialMs: 1000, maxMs: 30_000 };

export class Backoff {
  readonly #limits: BackoffLimits;
  readonly #random: () => number;
  #failures = 0;

  constructor(limits: BackoffLimits, random: () => number) {
    if (!(limits.initialMs > 0) || !(limits.maxMs >= limits.initialMs)) {
      throw new Error(`kubernetes backoff: need 0 < initialMs <= maxMs, got ${limits.initialMs} and ${limits.maxMs}`);
    }
    this.#limits = limits;
    this.#random = random;
  }

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const step = Math.min(this.#limits.maxMs, this.#limits.initialMs * 2 ** Math.min(this.#failures, 30));
    this.#failures++;
    return Math.round(step / 2 + (this.#random() * step) / 2);
  }

  /** After a healthy stretch the next failure starts again from `initialMs`. */
  reset(): void {
    this.#failures = 0;
  }
}
