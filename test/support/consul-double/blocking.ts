// Parked blocking queries, found by the index entries they read, so a write wakes only the
// queries whose index it may have moved (Consul's memdb watch sets play this role). A woken query
// re-reads its index and answers only when it is now above the client's `index`; otherwise it
// keeps waiting, as Consul's blockingQuery loops. Checks run on the next turn of the event loop,
// once per query however many entries one write touched.

import { kvKeyEntry } from './index-table.ts';

export interface Waiter {
  /** Index entry names (and KV key entries) whose change may move this query's index. */
  readonly wakeOn: readonly string[];
  /** A KV list query: any KV key under this prefix wakes it. */
  readonly kvPrefix?: string;
  /** True when the query's index is now above the client's. */
  ready(): boolean;
  /** Answer now, with whatever the state is. Called after the waiter is removed. */
  finish(): void;
  /** The client's socket (for dropParked). */
  drop(): void;
}

const KV_ENTRY = kvKeyEntry('');

export class WaiterRegistry {
  private readonly byKey = new Map<string, Set<Waiter>>();
  private readonly byPrefix = new Map<string, Set<Waiter>>();
  private readonly all = new Set<Waiter>();
  private readonly pending = new Set<Waiter>();
  private scheduled: NodeJS.Immediate | null = null;

  get size(): number {
    return this.all.size;
  }

  add(w: Waiter): void {
    this.all.add(w);
    for (const k of w.wakeOn) this.index(this.byKey, k, w);
    if (w.kvPrefix !== undefined) this.index(this.byPrefix, w.kvPrefix, w);
  }

  remove(w: Waiter): boolean {
    if (!this.all.delete(w)) return false;
    for (const k of w.wakeOn) this.unindex(this.byKey, k, w);
    if (w.kvPrefix !== undefined) this.unindex(this.byPrefix, w.kvPrefix, w);
    this.pending.delete(w);
    return true;
  }

  /** After a write: mark the queries that read any of `touched`, check them on the next turn. */
  notify(touched: ReadonlySet<string>): void {
    for (const name of touched) {
      for (const w of this.byKey.get(name) ?? []) this.pending.add(w);
      if (name.startsWith(KV_ENTRY) && this.byPrefix.size > 0) {
        const key = name.slice(KV_ENTRY.length);
        for (const [prefix, ws] of this.byPrefix) if (key.startsWith(prefix)) for (const w of ws) this.pending.add(w);
      }
    }
    if (this.pending.size > 0 && !this.scheduled) this.scheduled = setImmediate(() => this.check());
  }

  private check(): void {
    this.scheduled = null;
    const batch = [...this.pending];
    this.pending.clear();
    for (const w of batch) {
      if (this.all.has(w) && w.ready()) {
        this.remove(w);
        w.finish();
      }
    }
  }

  /** Answer every parked query at once (snapshot restore abandons the state store). */
  releaseAll(): void {
    for (const w of [...this.all]) {
      this.remove(w);
      w.finish();
    }
  }

  /** Destroy the client socket of every parked query. */
  dropAll(): void {
    for (const w of [...this.all]) {
      this.remove(w);
      w.drop();
    }
  }

  /** Shutdown: drop every parked query and the pending check. */
  shutdown(): void {
    this.dropAll();
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = null;
  }

  private index(map: Map<string, Set<Waiter>>, key: string, w: Waiter): void {
    let set = map.get(key);
    if (!set) map.set(key, (set = new Set()));
    set.add(w);
  }

  private unindex(map: Map<string, Set<Waiter>>, key: string, w: Waiter): void {
    const set = map.get(key);
    if (!set) return;
    set.delete(w);
    if (set.size === 0) map.delete(key);
  }
}
