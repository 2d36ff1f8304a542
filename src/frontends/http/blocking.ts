// Parked blocking queries (docs/consul-contract.md#blocking-queries). Waiters are indexed by the service they watch and by
// the caller that asked, so a change wakes only the queries whose answer it can touch; a woken
// waiter re-reads its index and answers only if it moved past the one the client sent (Consul
// re-runs the query the same way), else it keeps waiting.
//
// A change can wake thousands of waiters at once, most of them asking the same thing (one caller's
// many clients, or one query per process on a node). The waiters woken by one pass share a
// FlushScope: a memo that lives for that synchronous pass only, in which a waiter stores what every
// waiter with the same share key would compute alike (its index, its evaluated answer, its header
// list). Nothing can change the world between two waiters of one pass, so a shared value is exactly
// what each waiter would have computed on its own.

import type { ChangeSet } from '../../world/changes.ts';

export const DEFAULT_WAIT_MS = 5 * 60_000;
export const MAX_WAIT_MS = 10 * 60_000;
const JITTER_STEP_MS = 10;

export type WakeReason = 'change' | 'timeout' | 'drain';

/** What the waiters of one wake-up pass share, by share key. Valid for that synchronous pass only. */
export class FlushScope {
  readonly #memo = new Map<string, object>();

  get(key: string): object | undefined {
    return this.#memo.get(key);
  }

  set(key: string, value: object): void {
    this.#memo.set(key, value);
  }
}

/**
 * One parked query. A subclass carries what its answer needs; the registry owns the rest. A class
 * rather than a record of closures: thousands are parked at once, and each closure is an object.
 */
export abstract class Waiter {
  /** Lower-cased service name, or null for catalog-wide queries (services list, nodes, checks). */
  abstract readonly service: string | null;
  /** Normalized caller IP (its identity and Sidecar can change its answer), or null. */
  abstract readonly callerIp: string | null;
  /** The index the client sent: answer once the current index is above it. */
  abstract readonly index: number;
  /** Current index of this query's answer; `scope` holds what earlier waiters of the same pass computed. */
  abstract currentIndex(scope: FlushScope): number;
  /** Write the answer; called exactly once unless the waiter is cancelled first. `scope` is null for a lone wake-up (timeout). */
  abstract answer(reason: WakeReason, scope: FlushScope | null): void;

  /** Registry state: the timeout timer while parked, undefined once woken or cancelled. */
  timer: NodeJS.Timeout | undefined = undefined;
  parked = false;
}

/** Consul's timeout: wait (default 5m, at most 10m) plus up to wait/16 of jitter so clients spread out. */
export function blockingTimeoutMs(requestedMs: number, random: () => number = Math.random): number {
  const base = requestedMs > 0 ? Math.min(requestedMs, MAX_WAIT_MS) : DEFAULT_WAIT_MS;
  // Jitter in whole 10 ms steps: Node keeps one timer list per distinct duration, so thousands of
  // parked queries then share a few hundred lists instead of one heap entry each.
  return base + Math.floor((random() * (base / 16)) / JITTER_STEP_MS) * JITTER_STEP_MS;
}

function addTo<K>(map: Map<K, Set<Waiter>>, key: K, w: Waiter): void {
  const set = map.get(key);
  if (set) set.add(w);
  else map.set(key, new Set([w]));
}

function removeFrom<K>(map: Map<K, Set<Waiter>>, key: K, w: Waiter): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(w);
  if (set.size === 0) map.delete(key);
}

export class WaiterRegistry {
  /** Every parked waiter is in exactly one of #byService and #catalogWide. */
  readonly #byService = new Map<string, Set<Waiter>>();
  readonly #byCaller = new Map<string, Set<Waiter>>();
  readonly #catalogWide = new Set<Waiter>();
  #size = 0;
  /** Waiters to re-check at the next flush: several changes in one tick cost one pass. */
  #pending = new Set<Waiter>();
  #flushScheduled = false;

  get size(): number {
    return this.#size;
  }

  /** Parks a query until a change moves its index past the client's, its timeout, or a drain. */
  park(w: Waiter, timeoutMs: number): void {
    if (w.parked) throw new Error('blocking query parked twice');
    w.parked = true;
    this.#size++;
    if (w.service === null) this.#catalogWide.add(w);
    else addTo(this.#byService, w.service, w);
    if (w.callerIp !== null) addTo(this.#byCaller, w.callerIp, w);
    w.timer = setTimeout(this.#onTimeout, timeoutMs, w);
  }

  /** Frees a parked query without answering it (client gone); false when it was no longer parked. */
  cancel(w: Waiter): boolean {
    return this.#remove(w);
  }

  #onTimeout = (w: Waiter): void => {
    if (this.#remove(w)) w.answer('timeout', null);
  };

  #remove(w: Waiter): boolean {
    if (!w.parked) return false;
    w.parked = false;
    this.#size--;
    clearTimeout(w.timer);
    w.timer = undefined;
    this.#pending.delete(w);
    if (w.service === null) this.#catalogWide.delete(w);
    else removeFrom(this.#byService, w.service, w);
    if (w.callerIp !== null) removeFrom(this.#byCaller, w.callerIp, w);
    return true;
  }

  #forEachParked(f: (w: Waiter) => void): void {
    for (const set of this.#byService.values()) for (const w of set) f(w);
    for (const w of this.#catalogWide) f(w);
  }

  /** ChangeBus listener. */
  onChange = (change: ChangeSet): void => {
    const pending = this.#pending;
    if (change.all) {
      this.#forEachParked((w) => pending.add(w));
    } else {
      for (const s of change.services) for (const w of this.#byService.get(s) ?? []) pending.add(w);
      for (const c of change.callers) for (const w of this.#byCaller.get(c) ?? []) pending.add(w);
      // Catalog-wide answers change only with Consul data, which always names services.
      if (change.services.size > 0) for (const w of this.#catalogWide) pending.add(w);
    }
    if (pending.size > 0 && !this.#flushScheduled) {
      this.#flushScheduled = true;
      // After the publisher's call stack: every store has applied its change by then.
      setImmediate(this.#flush);
    }
  };

  #flush = (): void => {
    this.#flushScheduled = false;
    const batch = this.#pending;
    this.#pending = new Set();
    const scope = new FlushScope();
    for (const w of batch) {
      if (w.currentIndex(scope) > w.index && this.#remove(w)) w.answer('change', scope);
    }
  };

  /** Answers every parked query now with its current state (shutdown). */
  drain(): number {
    const all: Waiter[] = [];
    this.#forEachParked((w) => all.push(w));
    const scope = new FlushScope();
    for (const w of all) if (this.#remove(w)) w.answer('drain', scope);
    return all.length;
  }
}
