// Everything one double holds: the raft index, the index table, catalog, KV, parked queries and
// ACLs, plus the index each kind of read reports (agent/consul/state/catalog.go, kvs.go).

import { AclResolver } from './acl.ts';
import { WaiterRegistry } from './blocking.ts';
import { CatalogStore } from './catalog-store.ts';
import {
  IndexTable, NODE_EXTINCTION, SERVICE_EXTINCTION, TABLE_CHECKS, TABLE_NODES, TABLE_SERVICES, nodeEntry, serviceEntry, type Write,
} from './index-table.ts';
import { KvStore } from './kv-store.ts';
import type { ConsulDoubleOptions } from './types.ts';

export const AGENT_ADDRESS = '127.0.0.1';
export const CONSUL_VERSION = '1.21.0';

export class AgentState {
  readonly indexes = new IndexTable();
  readonly catalog = new CatalogStore(this.indexes);
  readonly kv = new KvStore(this.indexes);
  readonly waiters = new WaiterRegistry();
  readonly acl: AclResolver;
  readonly datacenter: string;
  readonly nodeName: string;
  readonly maxWaitMs: number;
  /** limits.http_max_conns_per_client, reported by /v1/agent/self as the real agent does. */
  readonly maxConnsPerClient: number;
  /** The last raft index handed out. Index 1 is Consul's own first (internal) raft write. */
  raft = 1;

  constructor(opts: ConsulDoubleOptions) {
    this.datacenter = opts.datacenter ?? 'dc1';
    this.nodeName = opts.nodeName ?? 'agent-1';
    this.maxWaitMs = opts.maxWaitMs ?? 10 * 60_000;
    this.maxConnsPerClient = opts.maxConnsPerClient ?? 200;
    this.acl = new AclResolver(opts.acl);
  }

  /** One raft write: takes the next index (even when nothing changes), then wakes what it touched. */
  write<T>(apply: (w: Write) => T): { idx: number; result: T } {
    const w: Write = { idx: ++this.raft, touched: new Set() };
    try {
      return { idx: w.idx, result: apply(w) };
    } finally {
      this.waiters.notify(w.touched);
    }
  }

  /** Snapshot restore: every index drops to at most `to`, and parked queries return at once. */
  resetIndex(to: number): void {
    this.raft = to;
    this.indexes.clamp(to);
    this.catalog.clamp(to);
    this.kv.clamp(to);
    this.waiters.releaseAll();
  }

  /**
   * maxIndexAndWatchChForService: a service without instances reports the last extinction index
   * when there was one; otherwise its own entry; otherwise the catalog tables (with the checks
   * table for health reads). `exists` is decided before any tag filter, as the state store does.
   */
  serviceIndex(name: string, withChecks: boolean): number {
    const exists = (this.catalog.instances(name)?.size ?? 0) > 0;
    if (!exists && this.indexes.has(SERVICE_EXTINCTION)) return this.indexes.get(SERVICE_EXTINCTION);
    const own = serviceEntry(name);
    if (this.indexes.has(own)) return this.indexes.get(own);
    return withChecks ? this.indexes.max(TABLE_CHECKS, TABLE_SERVICES, TABLE_NODES) : this.indexes.max(TABLE_SERVICES, TABLE_NODES);
  }

  /** nodeServices: the node's own entry, or for a missing node the last node extinction. */
  nodeIndex(name: string): number {
    return this.catalog.node(name) ? this.indexes.get(nodeEntry(name)) : this.indexes.get(NODE_EXTINCTION);
  }
}

/** Consul never reports an index of 0 (setIndex in agent/http.go turns it into 1). */
export const atLeastOne = (index: number): number => Math.max(1, index);
