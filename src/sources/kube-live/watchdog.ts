// Restarts a watch that went silent. The server ends every watch after its timeoutSeconds, so a
// healthy watch shows a sign of life (an event, a bookmark, a reconnect) at least that often; a
// half-open connection shows none and, with no client-side timeout, would otherwise hang forever.
// Signs of life only record a time; the one timer re-arms itself for the remainder.

import type { Clock, Timer } from '../../platform/clock.ts';

export class Watchdog {
  readonly #clock: Clock;
  readonly #limitMs: number;
  readonly #onSilence: (silentMs: number) => void;
  #lastAlive = 0;
  #timer: Timer | null = null;

  constructor(clock: Clock, limitMs: number, onSilence: (silentMs: number) => void) {
    this.#clock = clock;
    this.#limitMs = limitMs;
    this.#onSilence = onSilence;
  }

  /** Starts (or restarts) watching, counting from now. */
  start(): void {
    this.#lastAlive = this.#clock.now();
    this.#arm(this.#limitMs);
  }

  alive(): void {
    this.#lastAlive = this.#clock.now();
  }

  stop(): void {
    this.#timer?.cancel();
    this.#timer = null;
  }

  #arm(ms: number): void {
    this.#timer?.cancel();
    this.#timer = this.#clock.setTimer(ms, () => {
      this.#timer = null;
      const silent = this.#clock.now() - this.#lastAlive;
      if (silent < this.#limitMs) this.#arm(this.#limitMs - silent);
      else this.#onSilence(silent);
    });
  }
}
