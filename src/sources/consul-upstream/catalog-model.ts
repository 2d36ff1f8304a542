// What the upstream source knows of the catalog, kept per service so a change costs one service:
// each service's last good instances (the ConsulService object is reused as long as its content
// is unchanged), the upstream index of that data, the node list, node-level checks and which
// services sit on which node. build() assembles a new immutable ConsulCatalog from these parts
// without touching the instances of unchanged services.

import { createHash } from 'node:crypto';
import { compareStrings } from '../../platform/compare.ts';
import type { ConsulCatalog, ConsulInstance, ConsulNode, ConsulService, HealthCheck } from '../../world/consul-types.ts';

interface ServiceSlot {
  /** The name as the service list spells it (requests use it). */
  name: string;
  tags: string;
  data: ConsulService | null;
  fingerprint: string | null;
  /** X-Consul-Index of the data in effect; 0 before the first read or after an index reset. */
  index: number;
  nodes: readonly string[];
}

export interface ListedService {
  readonly name: string;
  /** Tags as the list shows them, serialized: a change names the service. */
  readonly tags: string;
}

function fingerprint(instances: readonly ConsulInstance[]): string {
  return createHash('sha1').update(JSON.stringify(instances)).digest('base64');
}

const NO_CHECKS: readonly HealthCheck[] = Object.freeze([]);

export class CatalogModel {
  readonly #slots = new Map<string, ServiceSlot>();
  #sortedKeys: string[] = [];
  #listedNodes = new Map<string, ConsulNode>();
  #nodeFingerprints = new Map<string, string>();
  /** Services with an instance on each node (lower-cased service keys). */
  readonly #servicesByNode = new Map<string, Set<string>>();
  /** The node object the latest read showed for nodes that carry instances. */
  readonly #instanceNodes = new Map<string, ConsulNode>();
  readonly #nodeLevelChecks = new Map<string, readonly HealthCheck[]>();
  #changed = true;

  /** A part of the catalog changed since the last build(). */
  get changed(): boolean {
    return this.#changed;
  }

  has(key: string): boolean {
    return this.#slots.has(key);
  }

  nameOf(key: string): string | undefined {
    return this.#slots.get(key)?.name;
  }

  indexOf(key: string): number {
    return this.#slots.get(key)?.index ?? 0;
  }

  hasData(key: string): boolean {
    return (this.#slots.get(key)?.data ?? null) !== null;
  }

  keys(): IterableIterator<string> {
    return this.#slots.keys();
  }

  get size(): number {
    return this.#slots.size;
  }

  /** Replace the service set; returns the services that are new or whose tags changed, and those that are gone. */
  setServiceList(listed: ReadonlyMap<string, ListedService>): { named: string[]; removed: string[] } {
    const named: string[] = [];
    const removed: string[] = [];
    for (const [key, entry] of listed) {
      const slot = this.#slots.get(key);
      if (!slot) {
        this.#slots.set(key, { name: entry.name, tags: entry.tags, data: null, fingerprint: null, index: 0, nodes: [] });
        named.push(key);
      } else if (slot.tags !== entry.tags || slot.name !== entry.name) {
        slot.tags = entry.tags;
        slot.name = entry.name;
        named.push(key);
      }
    }
    for (const [key, slot] of this.#slots) {
      if (listed.has(key)) continue;
      removed.push(key);
      this.#slots.delete(key);
      this.#unlinkNodes(key, slot.nodes);
      if (slot.data && slot.data.instances.length > 0) this.#changed = true;
    }
    if (named.length > 0 || removed.length > 0) this.#sortedKeys = [...this.#slots.keys()].sort(compareStrings);
    return { named, removed };
  }

  /**
   * Take a full read of one service. Returns true when the catalog changed (a new index with the
   * same content is not a change: only the index is kept). Unknown services are ignored.
   */
  applyService(key: string, instances: ConsulInstance[], index: number): boolean {
    const slot = this.#slots.get(key);
    if (!slot) return false;
    slot.index = index;
    for (const i of instances) {
      this.#instanceNodes.set(i.node.Node, i.node);
      this.#nodeLevelChecks.set(
        i.node.Node,
        i.checks.filter((c) => c.ServiceID === ''),
      );
    }
    const fp = fingerprint(instances);
    if (fp === slot.fingerprint && slot.data?.name === slot.name) return false;
    const nodes = [...new Set(instances.map((i) => i.node.Node))];
    this.#unlinkNodes(key, slot.nodes);
    for (const n of nodes) {
      const set = this.#servicesByNode.get(n);
      if (set) set.add(key);
      else this.#servicesByNode.set(n, new Set([key]));
    }
    slot.nodes = nodes;
    const visible = (slot.data?.instances.length ?? 0) > 0 || instances.length > 0;
    slot.data = { name: slot.name, instances };
    slot.fingerprint = fp;
    if (visible) this.#changed = true;
    return visible;
  }

  /** Forget every index (the upstream's went backwards): the next probe of each service reads it again. */
  resetIndexes(): void {
    for (const slot of this.#slots.values()) slot.index = 0;
  }

  /** Replace the node list; returns the names of nodes added, removed or changed. */
  setNodes(nodes: readonly ConsulNode[]): string[] {
    const next = new Map<string, ConsulNode>();
    const prints = new Map<string, string>();
    const changed: string[] = [];
    for (const n of nodes) {
      const fp = JSON.stringify(n);
      next.set(n.Node, this.#nodeFingerprints.get(n.Node) === fp ? this.#listedNodes.get(n.Node)! : n);
      prints.set(n.Node, fp);
      if (this.#nodeFingerprints.get(n.Node) !== fp) changed.push(n.Node);
    }
    for (const name of this.#listedNodes.keys()) if (!next.has(name)) changed.push(name);
    if (changed.length > 0) this.#changed = true;
    this.#listedNodes = next;
    this.#nodeFingerprints = prints;
    return changed;
  }

  nodeListed(node: string): boolean {
    return this.#listedNodes.has(node);
  }

  servicesOnNode(node: string): string[] {
    return [...(this.#servicesByNode.get(node) ?? [])];
  }

  /** Node-level checks of a node without instances (read with /v1/health/node). Returns true on a change. */
  setNodeChecks(node: string, checks: readonly HealthCheck[]): boolean {
    const before = this.#nodeLevelChecks.get(node);
    this.#nodeLevelChecks.set(node, checks);
    const changed = before === undefined || JSON.stringify(before) !== JSON.stringify(checks);
    if (changed) this.#changed = true;
    return changed;
  }

  /** Listed nodes whose node-level checks are not known (no instance read shows them). */
  nodesWithoutChecks(): string[] {
    return [...this.#listedNodes.keys()].filter((n) => !this.#nodeLevelChecks.has(n));
  }

  /** Every listed service has been read in full at least once. */
  servicesComplete(): boolean {
    for (const slot of this.#slots.values()) if (slot.data === null) return false;
    return true;
  }

  /** …and the node-level checks of every listed node are known. */
  complete(): boolean {
    return this.servicesComplete() && this.nodesWithoutChecks().length === 0;
  }

  /** The catalog as of now; unchanged services keep their ConsulService objects. */
  build(): ConsulCatalog {
    const services = new Map<string, ConsulService>();
    for (const key of this.#sortedKeys) {
      const data = this.#slots.get(key)?.data;
      if (data && data.instances.length > 0) services.set(key, data);
    }
    const nodes = new Map<string, ConsulNode>(this.#listedNodes);
    // A node the list does not show yet (the list and the reads race) still has instances.
    for (const [name, node] of this.#instanceNodes) if (!nodes.has(name) && this.#servicesByNode.has(name)) nodes.set(name, node);
    const nodeChecks = new Map<string, readonly HealthCheck[]>();
    for (const name of nodes.keys()) nodeChecks.set(name, this.#nodeLevelChecks.get(name) ?? NO_CHECKS);
    this.#forgetUnusedNodes(nodes);
    this.#changed = false;
    return { nodes, services, nodeChecks };
  }

  #unlinkNodes(key: string, nodes: readonly string[]): void {
    for (const n of nodes) {
      const set = this.#servicesByNode.get(n);
      if (!set) continue;
      set.delete(key);
      if (set.size === 0) this.#servicesByNode.delete(n);
    }
  }

  /** Nodes neither listed nor carrying instances drop out of the side tables. */
  #forgetUnusedNodes(current: ReadonlyMap<string, ConsulNode>): void {
    for (const name of this.#instanceNodes.keys()) if (!current.has(name)) this.#instanceNodes.delete(name);
    for (const name of this.#nodeLevelChecks.keys()) if (!current.has(name)) this.#nodeLevelChecks.delete(name);
  }
}
