// Which services callers look up most, for the upstream Consul source's per-service blocking
// watches (docs/adr/0008-consul-watch-layout.md): the services most callers use get the fastest
// updates. Counting is one map increment per lookup; ranking happens when the source asks (every
// 30 s), over two windows so the ranking follows a change of traffic within a couple of windows
// without forgetting a service between two quiet seconds.

import type { Clock } from '../platform/clock.ts';

export interface ServicePopularityOptions {
  readonly clock: Clock;
  /** Length of one counting window. Default 60 s. */
  readonly windowMs?: number;
}

export class ServicePopularity {
  readonly #clock: Clock;
  readonly #windowMs: number;
  #current = new Map<string, number>();
  #previous = new Map<string, number>();
  #windowStart: number;

  constructor(options: ServicePopularityOptions) {
    this.#clock = options.clock;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#windowStart = options.clock.now();
  }

  /** One lookup of a service Consul knows (unknown names are not counted: they would grow the map without bound). */
  note(service: string): void {
    this.#current.set(service, (this.#current.get(service) ?? 0) + 1);
  }

  /** The `n` most looked-up services, most first: this window's lookups plus half of the last window's; ties by name. */
  top(n: number): string[] {
    this.#rotate();
    const score = new Map(this.#current);
    for (const [s, c] of this.#previous) score.set(s, (score.get(s) ?? 0) + c / 2);
    return [...score]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, Math.max(0, n))
      .map(([s]) => s);
  }

  #rotate(): void {
    const now = this.#clock.now();
    const elapsed = now - this.#windowStart;
    if (elapsed < this.#windowMs) return;
    // A gap of two windows or more leaves nothing recent to carry over.
    this.#previous = elapsed < 2 * this.#windowMs ? this.#current : new Map();
    this.#current = new Map();
    this.#windowStart = now;
  }
}
