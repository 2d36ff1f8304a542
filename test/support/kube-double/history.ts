// The bounded event history watches resume from: a ring of the newest events, in resourceVersion
// order, plus the floor below which a resourceVersion is "too old".

export interface Versioned {
  readonly rv: number;
}

export class EventHistory<E extends Versioned> {
  private readonly ring: Array<E | undefined>;
  private head = 0;
  private size = 0;
  /** The newest resourceVersion whose events are no longer all kept. */
  private floorRv: number;
  private readonly limit: number;

  constructor(limit: number, initialRv: number) {
    this.limit = limit;
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`historyLimit must be a positive integer, got ${limit}`);
    this.ring = new Array<E | undefined>(limit);
    this.floorRv = initialRv;
  }

  /** A watch may resume from any resourceVersion at or above this. */
  get floor(): number {
    return this.floorRv;
  }

  push(event: E): void {
    if (this.size === this.limit) {
      const oldest = this.ring[this.head] as E;
      this.floorRv = oldest.rv;
      this.ring[this.head] = event;
      this.head = (this.head + 1) % this.limit;
      return;
    }
    this.ring[(this.head + this.size) % this.limit] = event;
    this.size++;
  }

  /** Forgets every event: no resourceVersion before `rv` can be resumed from. */
  compact(rv: number): void {
    this.ring.fill(undefined);
    this.head = 0;
    this.size = 0;
    this.floorRv = rv;
  }

  /** The events after `rv`, oldest first; null when `rv` is below the floor. */
  since(rv: number): E[] | null {
    if (rv < this.floorRv) return null;
    // Binary search for the first kept event newer than rv.
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ring[(this.head + mid) % this.limit] as E).rv > rv) hi = mid;
      else lo = mid + 1;
    }
    const out: E[] = [];
    for (let i = lo; i < this.size; i++) out.push(this.ring[(this.head + i) % this.limit] as E);
    return out;
  }
}
