// Parked blocking queries (docs/consul-contract.md#blocking-queries). Waiters are indexed by the service they watch and by
// the caller that asked, so a change wakes only the queries whose answer it can touch; a woken
// waiter re-reads its index and answers only if it moved past the one the client sent (Consul
// re-runs the query the same way), else it keeps waiting.

import type { ChangeSet } from '../../world/changes.ts';

export const DEFAULT_WAIT_MS = 5 * 60_000;
export const MAX_WAIT_MS = 10 * 60_000;
const JITTER_STEP_MS = 10;

export type WakeReason = 'change' | 'timeout' | 'drain';

export interface WaiterSpec {
  /** Lower-cased service name, or null for catalog-wide queries (services list, nodes, checks). */
  readonly service: string | null;
  /** Normalized caller IP (its identity and Sidecar can change its answer), or null. */
  readonly callerIp: string | null;
  /** The index the client sent: answer once the current index is above it. */
  readonly index: number;
  /** Current index of this query's answer. */
  readonly currentIndex: () => number;
  /** Write the answer; called exactly once unless the waiter is cancelled first. */
  readonly answer: (reason: WakeReason) => void;
}

interface Waiter extends WaiterSpec {
  timer: NodeJS.Timeout | undefined;
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
  readonly #all = new Set<Waiter>();
  readonly #byService = new Map<string, Set<Waiter>>();
  readonly #byCaller = new Map<string, Set<Waiter>>();
  readonly #catalogWide = new Set<Waiter>();
  /** Waiters to re-check at the next flush: several changes in one tick cost one pass. */
  #pending = new Set<Waiter>();
  #flushScheduled = false;

  get size(): number {
    return this.#all.size;
  }

  /** Parks a query; returns the function that cancels it (client gone). */
  park(spec: WaiterSpec, timeoutMs: number): () => void {
    const w: Waiter = { ...spec, timer: undefined };
    this.#all.add(w);
    if (w.service === null) this.#catalogWide.add(w);
    else addTo(this.#byService, w.service, w);
    if (w.callerIp !== null) addTo(this.#byCaller, w.callerIp, w);
    w.timer = setTimeout(() => this.#wake(w, 'timeout'), timeoutMs);
    return () => this.#remove(w);
  }

  #remove(w: Waiter): boolean {
    if (!this.#all.delete(w)) return false;
    clearTimeout(w.timer);
    this.#pending.delete(w);
    if (w.service === null) this.#catalogWide.delete(w);
    else removeFrom(this.#byService, w.service, w);
    if (w.callerIp !== null) removeFrom(this.#byCaller, w.callerIp, w);
    return true;
  }

  #wake(w: Waiter, reason: WakeReason): void {
    if (this.#remove(w)) w.answer(reason);
  }

  /** ChangeBus listener. */
  onChange = (change: ChangeSet): void => {
    if (change.all) {
      for (const w of this.#all) this.#pending.add(w);
    } else {
      for (const s of change.services) for (const w of this.#byService.get(s) ?? []) this.#pending.add(w);
      for (const c of change.callers) for (const w of this.#byCaller.get(c) ?? []) this.#pending.add(w);
      // Catalog-wide answers change only with Consul data, which always names services.
      if (change.services.size > 0) for (const w of this.#catalogWide) this.#pending.add(w);
    }
    if (this.#pending.size > 0 && !this.#flushScheduled) {
      this.#flushScheduled = true;
      // After the publisher's call stack: every store has applied its change by then.
      setImmediate(this.#flush);
    }
  };

  #flush = (): void => {
    this.#flushScheduled = false;
    const batch = this.#pending;
    this.#pending = new Set();
    for (const w of batch) if (w.currentIndex() > w.index) this.#wake(w, 'change');
  };

  /** Answers every parked query now with its current state (shutdown). */
  drain(): number {
    const all = [...this.#all];
    for (const w of all) this.#wake(w, 'drain');
    return all.length;
  }
}
