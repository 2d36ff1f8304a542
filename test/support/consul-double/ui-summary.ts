// The per-service summaries of GET /v1/internal/ui/services, built from the service dump rows
// (each service instance with its checks: its node's checks and its own), as Consul's agent
// summarizes them (agent/ui_endpoint.go: summarizeServices, prepSummaryOutput, and the
// ServiceListingSummary struct that embeds ServiceSummary).
//
// Per service name (compared exactly, as Consul keys summaries by the registered name):
// - Nodes: each node name once, sorted; Tags: each tag once, sorted, null when no instance has
//   one; ExternalSources: each non-empty `external-source` meta value once, in the order first
//   seen, null when none;
// - check counts over the service's distinct checks, keyed by node and check ID, so a node check
//   seen through two instances on that node counts once; a status other than passing, warning or
//   critical counts in none;
// - Kind is left out for typical services (`omitempty`), GatewayConfig is `{}` (both its fields
//   are `omitempty`), PeerName is left out (empty, `omitempty`), and CE has no namespace fields.
// The double stores no service kind, Connect or proxy settings, so every summary is of a typical
// service with ConnectNative, ConnectedWithProxy and ConnectedWithGateway false.

import type { Instance } from './catalog-views.ts';
import type { CheckRecord } from './types.ts';

export interface DumpRow {
  readonly instance: Instance;
  readonly checks: readonly CheckRecord[];
}

interface Summary {
  readonly name: string;
  readonly nodes: Set<string>;
  readonly tags: Set<string>;
  readonly externalSources: Set<string>;
  /** By node and check ID. */
  readonly checks: Map<string, CheckRecord['status']>;
  instanceCount: number;
}

const EXTERNAL_SOURCE = 'external-source';

function emptySummary(name: string): Summary {
  return { name, nodes: new Set(), tags: new Set(), externalSources: new Set(), checks: new Map(), instanceCount: 0 };
}

function render(s: Summary, datacenter: string): Record<string, unknown> {
  let passing = 0;
  let warning = 0;
  let critical = 0;
  for (const status of s.checks.values()) {
    if (status === 'passing') passing++;
    else if (status === 'warning') warning++;
    else if (status === 'critical') critical++;
  }
  return {
    Name: s.name,
    // Every node of the double is in its one datacenter.
    Datacenter: datacenter,
    Tags: s.tags.size > 0 ? [...s.tags].sort() : null,
    Nodes: [...s.nodes].sort(),
    ExternalSources: s.externalSources.size > 0 ? [...s.externalSources] : null,
    InstanceCount: s.instanceCount,
    ChecksPassing: passing,
    ChecksWarning: warning,
    ChecksCritical: critical,
    GatewayConfig: {},
    TransparentProxy: false,
    ConnectNative: false,
    ConnectedWithProxy: false,
    ConnectedWithGateway: false,
  };
}

/** The JSON array the endpoint answers: one summary per service name, sorted by name; `[]` for no rows. */
export function summarizeServices(rows: readonly DumpRow[], datacenter: string): Record<string, unknown>[] {
  const byName = new Map<string, Summary>();
  for (const { instance, checks } of rows) {
    const { node, service } = instance;
    let s = byName.get(service.name);
    if (!s) byName.set(service.name, (s = emptySummary(service.name)));
    s.nodes.add(node.name);
    s.instanceCount++;
    for (const t of service.tags) s.tags.add(t);
    const source = service.meta?.[EXTERNAL_SOURCE];
    if (source) s.externalSources.add(source);
    for (const c of checks) s.checks.set(`${node.name}\u0000${c.checkId}`, c.status);
  }
  const names = [...byName.keys()].sort();
  return names.map((n) => render(byName.get(n)!, datacenter));
}
