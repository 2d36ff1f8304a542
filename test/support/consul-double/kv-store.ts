// The KV half of Consul's state store (agent/consul/state/kvs.go): entries, tombstones for
// deleted keys (never reaped here), and the "kvs"/"tombstones" index entries. Setting a key to the
// value and flags it already has changes nothing (its ModifyIndex stays).

import { type IndexTable, TABLE_KVS, TABLE_TOMBSTONES, kvKeyEntry, type Write } from './index-table.ts';
import type { KvRecord } from './types.ts';

const byKey = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export class KvStore {
  readonly entries = new Map<string, KvRecord>();
  /** Deleted key → the index of its deletion. */
  readonly tombstones = new Map<string, number>();

  private readonly indexes: IndexTable;

  constructor(indexes: IndexTable) {
    this.indexes = indexes;
  }

  get(key: string): KvRecord | undefined {
    return this.entries.get(key);
  }

  /** kvsMaxIndex: the index of the last write to the KV store or its graveyard. */
  tableIndex(): number {
    return this.indexes.max(TABLE_KVS, TABLE_TOMBSTONES);
  }

  set(key: string, value: Buffer | null, flags: number, w: Write): void {
    const existing = this.entries.get(key);
    const same = existing && existing.flags === flags && Buffer.compare(existing.value ?? Buffer.alloc(0), value ?? Buffer.alloc(0)) === 0;
    if (same) return;
    this.entries.set(key, {
      key, value, flags, lockIndex: existing?.lockIndex ?? 0, createIndex: existing?.createIndex ?? w.idx, modifyIndex: w.idx,
    });
    this.indexes.bump(TABLE_KVS, w);
    w.touched.add(kvKeyEntry(key));
  }

  /** Check-and-set: `cas` 0 creates only; otherwise the key's ModifyIndex must equal `cas`. */
  cas(key: string, value: Buffer | null, flags: number, cas: number, w: Write): boolean {
    const existing = this.entries.get(key);
    if (cas === 0 ? existing !== undefined : existing?.modifyIndex !== cas) return false;
    this.set(key, value, flags, w);
    return true;
  }

  delete(key: string, w: Write): void {
    if (!this.entries.has(key)) return;
    this.tombstones.set(key, w.idx);
    this.indexes.bump(TABLE_TOMBSTONES, w);
    this.entries.delete(key);
    this.indexes.bump(TABLE_KVS, w);
    w.touched.add(kvKeyEntry(key));
  }

  /** Consul answers true for a CAS delete of a key that does not exist. */
  deleteCas(key: string, cas: number, w: Write): boolean {
    const existing = this.entries.get(key);
    if (!existing) return true;
    if (existing.modifyIndex !== cas) return false;
    this.delete(key, w);
    return true;
  }

  deleteTree(prefix: string, w: Write): void {
    for (const key of [...this.entries.keys()]) if (key.startsWith(prefix)) this.delete(key, w);
  }

  /** KVSList: entries under the prefix, with the highest index among them and their tombstones. */
  list(prefix: string): { index: number; entries: KvRecord[] } {
    const entries = [...this.entries.values()].filter((e) => e.key.startsWith(prefix)).sort((a, b) => byKey(a.key, b.key));
    return { index: this.prefixIndex(prefix, entries), entries };
  }

  /** KVSListKeys: keys under the prefix, cut after the first separator past it. */
  keys(prefix: string, separator: string): { index: number; keys: string[] } {
    const { index, entries } = this.list(prefix);
    const keys: string[] = [];
    for (const e of entries) {
      const cut = separator === '' ? -1 : e.key.indexOf(separator, prefix.length);
      const k = cut < 0 ? e.key : e.key.slice(0, cut + separator.length);
      if (keys[keys.length - 1] !== k) keys.push(k);
    }
    return { index, keys };
  }

  private prefixIndex(prefix: string, entries: readonly KvRecord[]): number {
    if (prefix === '') return this.tableIndex();
    let idx = 0;
    for (const e of entries) idx = Math.max(idx, e.modifyIndex);
    for (const [k, at] of this.tombstones) if (k.startsWith(prefix)) idx = Math.max(idx, at);
    return idx !== 0 ? idx : this.tableIndex();
  }

  clamp(to: number): void {
    for (const e of this.entries.values()) {
      e.createIndex = Math.min(e.createIndex, to);
      e.modifyIndex = Math.min(e.modifyIndex, to);
    }
    for (const [k, at] of this.tombstones) if (at > to) this.tombstones.set(k, to);
  }
}
