// Index clock and change notifications shared by every stateful part (world, control, Sidecar gate).
// Each part stamps what changed with the next index; the front ends combine stamps with max(),
// so X-Consul-Index never goes backwards and any change of an answer raises it.

/** What a change may have affected: all answers, some target services (lower-cased names), or some callers (IPs). */
export interface ChangeSet {
  readonly all: boolean;
  readonly services: ReadonlySet<string>;
  readonly callers: ReadonlySet<string>;
}

export function isEmptyChange(c: ChangeSet): boolean {
  return !c.all && c.services.size === 0 && c.callers.size === 0;
}

/**
 * Monotonic index source. Indexes follow wall-clock milliseconds (and never repeat), so they keep
 * rising across restarts and stay comparable between replicas started at different times,
 * while remaining far below 2^53 (JSON clients decode numbers as doubles).
 */
export class IndexClock {
  #last: number;
  readonly #now: () => number;

  constructor(now: () => number = Date.now, floor = 0) {
    this.#now = now;
    this.#last = Math.max(floor, 0);
  }

  next(): number {
    this.#last = Math.max(this.#last + 1, Math.floor(this.#now()));
    return this.#last;
  }

  get last(): number {
    return this.#last;
  }
}

export type ChangeListener = (change: ChangeSet) => void;

/** Fan-out of change sets to the caches and blocking-query waiters. */
export class ChangeBus {
  readonly #listeners = new Set<ChangeListener>();

  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  publish(change: ChangeSet): void {
    if (isEmptyChange(change)) return;
    for (const l of this.#listeners) l(change);
  }
}
