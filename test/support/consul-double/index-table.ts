// Consul's "index" table: named raft indexes that the state store keeps per table ("nodes",
// "services", "checks", "kvs", "tombstones"), per service ("service.<name>"), per node
// ("node.<name>") and for extinctions ("service_last_extinction", "node_last_extinction").
// Endpoints report one of these, so a blocking query wakes only when the entry it reads moves.
// The names touched by a write are also the keys parked queries wait on (see blocking.ts).

/** One raft write: its index, and the names of the index entries (and KV keys) it touched. */
export interface Write {
  readonly idx: number;
  readonly touched: Set<string>;
}

export const TABLE_NODES = 'nodes';
export const TABLE_SERVICES = 'services';
export const TABLE_CHECKS = 'checks';
export const TABLE_KVS = 'kvs';
export const TABLE_TOMBSTONES = 'tombstones';
export const SERVICE_EXTINCTION = 'service_last_extinction';
export const NODE_EXTINCTION = 'node_last_extinction';

/** Service and node names are matched case-insensitively, as Consul's memdb indexes do. */
export const serviceEntry = (name: string): string => `service.${name.toLowerCase()}`;
export const nodeEntry = (name: string): string => `node.${name.toLowerCase()}`;
/** Not an index entry: the wake-up key of queries reading one KV key. */
export const kvKeyEntry = (key: string): string => `kv:${key}`;

export class IndexTable {
  private readonly entries = new Map<string, number>();

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The entry's value, 0 when absent (Consul's maxIndexTxn). */
  get(name: string): number {
    return this.entries.get(name) ?? 0;
  }

  max(...names: string[]): number {
    let m = 0;
    for (const n of names) m = Math.max(m, this.get(n));
    return m;
  }

  /** indexUpdateMaxTxn: the entry becomes max(entry, idx). */
  bump(name: string, w: Write): void {
    this.entries.set(name, Math.max(this.get(name), w.idx));
    w.touched.add(name);
  }

  drop(name: string, w: Write): void {
    this.entries.delete(name);
    w.touched.add(name);
  }

  /** Snapshot restore to an older index: no entry stays above `to`. */
  clamp(to: number): void {
    for (const [k, v] of this.entries) if (v > to) this.entries.set(k, to);
  }
}
