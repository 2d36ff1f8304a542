// Consul's own data model, field for field as Consul renders it (agent/structs/structs.go).
// Sources convert registrations into these once, at load time, so the front ends can
// serialize them without translation on the request path.

import { compareStrings } from '../platform/compare.ts';

export type CheckStatus = 'passing' | 'warning' | 'critical';

export interface ConsulNode {
  readonly ID: string;
  readonly Node: string;
  readonly Address: string;
  readonly Datacenter: string;
  readonly TaggedAddresses: Readonly<Record<string, string>> | null;
  readonly Meta: Readonly<Record<string, string>> | null;
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
}

export interface ServiceAddress {
  readonly Address: string;
  readonly Port: number;
}

export interface NodeService {
  readonly ID: string;
  readonly Service: string;
  readonly Tags: readonly string[];
  readonly Address: string;
  readonly TaggedAddresses?: Readonly<Record<string, ServiceAddress>>;
  readonly Meta: Readonly<Record<string, string>> | null;
  readonly Port: number;
  readonly Weights: { readonly Passing: number; readonly Warning: number };
  readonly EnableTagOverride: boolean;
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
}

export interface HealthCheck {
  readonly Node: string;
  readonly CheckID: string;
  readonly Name: string;
  readonly Status: CheckStatus;
  readonly Notes: string;
  readonly Output: string;
  readonly ServiceID: string;
  readonly ServiceName: string;
  readonly ServiceTags: readonly string[];
  readonly Type: string;
  readonly Interval: string;
  readonly Timeout: string;
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
}

/** One registered service instance with its node and every check that applies to it (node-level checks included). */
export interface ConsulInstance {
  readonly node: ConsulNode;
  readonly service: NodeService;
  readonly checks: readonly HealthCheck[];
}

export interface ConsulService {
  /** Name as registered (first registration wins for the spelling). */
  readonly name: string;
  /** Sorted by node name, then service ID: the order Consul's state store returns. */
  readonly instances: readonly ConsulInstance[];
}

/** The whole Consul catalog as one immutable value. Keys of `services` are lower-cased names. */
export interface ConsulCatalog {
  readonly nodes: ReadonlyMap<string, ConsulNode>;
  readonly services: ReadonlyMap<string, ConsulService>;
  /** Node-level checks by node name (serfHealth, maintenance). */
  readonly nodeChecks: ReadonlyMap<string, readonly HealthCheck[]>;
}

/** Worst status wins; a maintenance check is `critical` in Consul. */
export function aggregateStatus(checks: readonly HealthCheck[]): CheckStatus {
  let worst: CheckStatus = 'passing';
  for (const c of checks) {
    if (c.Status === 'critical') return 'critical';
    if (c.Status === 'warning') worst = 'warning';
  }
  return worst;
}

/**
 * Consul's order of a service's instances: by node name, then service ID, both compared lower-cased
 * first (its state store indexes them lower-cased), then as written to break ties.
 */
export function compareInstances(a: ConsulInstance, b: ConsulInstance): number {
  return (
    compareStrings(a.node.Node.toLowerCase(), b.node.Node.toLowerCase()) ||
    compareStrings(a.service.ID.toLowerCase(), b.service.ID.toLowerCase()) ||
    compareStrings(a.node.Node, b.node.Node) ||
    compareStrings(a.service.ID, b.service.ID)
  );
}
