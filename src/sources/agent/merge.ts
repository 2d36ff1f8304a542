// The catalog the world is built from: the source's catalog plus this agent's own registrations,
// each service's instances in Consul's order.

import type { ConsulCatalog, ConsulInstance, ConsulService } from '../../world/consul-types.ts';
import { compareInstances } from '../../world/consul-types.ts';

/** An agent registration whose ID collides with a source instance on the same node replaces nothing: both stay. */
export function withAgentInstances(catalog: ConsulCatalog, instances: readonly ConsulInstance[]): ConsulCatalog {
  if (instances.length === 0) return catalog;
  const services = new Map<string, ConsulService>(catalog.services);
  const nodes = new Map(catalog.nodes);
  const grouped = new Map<string, ConsulInstance[]>();
  for (const i of instances) {
    if (!nodes.has(i.node.Node)) nodes.set(i.node.Node, i.node);
    const key = i.service.Service.toLowerCase();
    const list = grouped.get(key);
    if (list) list.push(i);
    else grouped.set(key, [i]);
  }
  for (const [key, added] of grouped) {
    const existing = services.get(key);
    const all = [...(existing?.instances ?? []), ...added].sort(compareInstances);
    services.set(key, { name: existing?.name ?? added[0]!.service.Service, instances: all });
  }
  return { nodes, services, nodeChecks: catalog.nodeChecks };
}
