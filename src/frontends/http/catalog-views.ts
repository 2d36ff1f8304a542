// Views of one immutable ConsulCatalog that the node and check endpoints need, built once per
// catalog (a WeakMap keyed by the catalog object, so a new world drops the old views).

import type { ConsulCatalog, ConsulInstance, HealthCheck } from '../../world/consul-types.ts';

export interface CatalogViews {
  /** Instances on each node, by node name. */
  readonly byNode: ReadonlyMap<string, readonly ConsulInstance[]>;
  /** Every check in the catalog (node-level and service-level, each once), by node then CheckID. */
  readonly checks: readonly HealthCheck[];
  /** Node names sorted as Consul's index returns them. */
  readonly nodeNames: readonly string[];
}

const cache = new WeakMap<ConsulCatalog, CatalogViews>();

export function byteCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function catalogViews(catalog: ConsulCatalog): CatalogViews {
  let v = cache.get(catalog);
  if (v) return v;
  const byNode = new Map<string, ConsulInstance[]>();
  for (const svc of catalog.services.values()) {
    for (const i of svc.instances) {
      const list = byNode.get(i.node.Node);
      if (list) list.push(i);
      else byNode.set(i.node.Node, [i]);
    }
  }
  for (const list of byNode.values()) list.sort((a, b) => byteCompare(a.service.ID, b.service.ID));
  const nodeNames = new Set<string>([...catalog.nodes.keys(), ...byNode.keys()]);
  const checks: HealthCheck[] = [];
  for (const node of nodeNames) {
    for (const c of catalog.nodeChecks.get(node) ?? []) checks.push(c);
    // Instance check lists repeat the node-level checks; take only the service's own ones.
    for (const i of byNode.get(node) ?? []) for (const c of i.checks) if (c.ServiceID !== '') checks.push(c);
  }
  checks.sort((a, b) => byteCompare(a.Node, b.Node) || byteCompare(a.CheckID, b.CheckID));
  v = { byNode, checks, nodeNames: [...nodeNames].sort(byteCompare) };
  cache.set(catalog, v);
  return v;
}
