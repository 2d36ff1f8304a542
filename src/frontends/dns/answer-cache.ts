// Encoded answers, per (lower-cased question name, qtype), and inside that per content version:
// the Consul (HAProxy) answer and the mesh (ClusterIP) answer are kept side by side, each tagged
// with the `contentVersion` Lookups returned when it was built. Every caller that gets the same
// instances shares one entry, so the cache is keyed by caller class, not by caller.
//
// Invalidation: the same ChangeBus events that bump blocking-query indexes. A change to a service
// drops its entries (and node entries, since node data arrives with service instances); a global
// change (kill-switch, mode) drops everything. The content version check on every hit is the
// second line of defence: a stale entry is never served even if an event were missed.

import type { ChangeBus, ChangeSet } from '../../world/changes.ts';
import type { ConsulCatalog } from '../../world/consul-types.ts';
import type { ParsedName } from './names.ts';
import type { Prepared } from './prepared.ts';

export interface Versioned {
  readonly version: number;
  readonly prepared: Prepared;
}

export interface CacheEntry {
  readonly name: ParsedName;
  readonly qtype: number;
  /** Wire length of the question name. */
  readonly qnameLen: number;
  /** How the answer is found: caller-independent, per-caller service lookup, or forwarded. */
  readonly mode: 'static' | 'service' | 'recurse';
  /** Caller-independent answer, with the catalog it was built from (node data) or null. */
  fixed: { readonly catalog: ConsulCatalog | null; readonly prepared: Prepared } | null;
  consul: Versioned | null;
  mesh: Versioned | null;
}

export class AnswerCache {
  /** qtype → lower-cased wire name → entry (two Map lookups beat building a combined key string per query). */
  readonly #byType = new Map<number, Map<string, CacheEntry>>();
  #count = 0;
  readonly #byService = new Map<string, Set<string>>();
  readonly #nodeKeys = new Set<string>();
  readonly #max: number;
  readonly #unsubscribe: () => void;
  misses = 0;

  constructor(bus: ChangeBus, maxEntries = 100_000) {
    this.#max = maxEntries;
    this.#unsubscribe = bus.subscribe((c) => this.invalidate(c));
  }

  get size(): number {
    return this.#count;
  }

  get(qtype: number, name: string): CacheEntry | undefined {
    return this.#byType.get(qtype)?.get(name);
  }

  add(qtype: number, name: string, entry: CacheEntry): CacheEntry {
    // Random names from a client must not grow memory without bound: start over when full.
    if (this.#count >= this.#max) this.clear();
    this.misses++;
    let names = this.#byType.get(qtype);
    if (!names) this.#byType.set(qtype, (names = new Map<string, CacheEntry>()));
    if (!names.has(name)) this.#count++;
    names.set(name, entry);
    const key = `${qtype}:${name}`;
    if (entry.name.kind === 'service') {
      let keys = this.#byService.get(entry.name.service);
      if (!keys) this.#byService.set(entry.name.service, (keys = new Set()));
      keys.add(key);
    } else if (entry.name.kind === 'node') {
      this.#nodeKeys.add(key);
    }
    return entry;
  }

  invalidate(change: ChangeSet): void {
    if (change.all) return this.clear();
    if (change.services.size === 0) return;
    for (const service of change.services) {
      const keys = this.#byService.get(service);
      if (!keys) continue;
      for (const k of keys) this.#delete(k);
      this.#byService.delete(service);
    }
    for (const k of this.#nodeKeys) this.#delete(k);
    this.#nodeKeys.clear();
  }

  #delete(key: string): void {
    const colon = key.indexOf(':');
    if (this.#byType.get(Number(key.slice(0, colon)))?.delete(key.slice(colon + 1))) this.#count--;
  }

  clear(): void {
    this.#byType.clear();
    this.#count = 0;
    this.#byService.clear();
    this.#nodeKeys.clear();
  }

  close(): void {
    this.#unsubscribe();
    this.clear();
  }
}
