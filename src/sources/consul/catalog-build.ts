// Consul's catalog state machine, reduced to what a snapshot needs: validated registrations
// (registration-body.ts) are applied in order, the way Consul's catalog would apply the same
// `PUT /v1/catalog/register` requests, into the immutable ConsulCatalog the front ends serialize
// as is.

import type { ConsulCatalog, ConsulInstance, ConsulNode, ConsulService, HealthCheck, NodeService } from '../../world/consul-types.ts';
import { compareInstances } from '../../world/consul-types.ts';
import { compareStrings } from '../../platform/compare.ts';
import { snapshotError } from '../shape.ts';
import type { RegistrationBody, RegistrationCheck, RegistrationService } from './registration-body.ts';

interface NodeState {
  body: RegistrationBody;
  /** Registrations applied to this node so far; object indexes are 10 + the touch that wrote them. */
  touches: number;
  createIndex: number;
  modifyIndex: number;
  readonly services: Map<string, { svc: RegistrationService; id: string; createIndex: number; modifyIndex: number }>;
  readonly checks: Map<string, { check: RegistrationCheck; serviceKey: string | null; createIndex: number; modifyIndex: number }>;
}

// Consul stamps objects with raft indexes. A snapshot has none, so each object gets 10 + the
// number of earlier registrations of its own node: stable when unrelated parts of the file
// change (so blocking watchers of other services are not woken), small, and never 0.
const INDEX_BASE = 10;

/**
 * Apply registrations in order into the catalog Consul would hold after the same sequence of
 * `PUT /v1/catalog/register` calls. Throws DiscoveryError DSC_ERR_SNAPSHOT for requests Consul
 * would refuse (foreign datacenter, check of an unknown service, check of another node).
 */
export function buildCatalog(regs: readonly RegistrationBody[], datacenter: string, origin = 'consul snapshot'): ConsulCatalog {
  const states = new Map<string, NodeState>();
  const nodeIds = new Map<string, string>();
  const serviceSpelling = new Map<string, string>();

  regs.forEach((body, i) => {
    const at = `[${i}]`;
    const refuse = (path: string, problem: string): never => {
      throw snapshotError(origin, `${at}${path} ${problem}`);
    };
    if (body.Datacenter !== undefined && body.Datacenter.toLowerCase() !== datacenter.toLowerCase()) {
      refuse('.Datacenter', `is ${JSON.stringify(body.Datacenter)} but this snapshot is served as datacenter ${JSON.stringify(datacenter)}`);
    }
    const nodeKey = body.Node.toLowerCase();
    let state = states.get(nodeKey);
    if (state) {
      state.touches++;
      if (!body.SkipNodeUpdate) {
        state.body = body;
        state.modifyIndex = INDEX_BASE + state.touches;
      }
    } else {
      if (body.Address === undefined) refuse('.SkipNodeUpdate', `is set but node ${JSON.stringify(body.Node)} has no earlier registration giving its Address`);
      state = { body, touches: 0, createIndex: INDEX_BASE, modifyIndex: INDEX_BASE, services: new Map(), checks: new Map() };
      states.set(nodeKey, state);
    }
    if (body.ID !== undefined && !(body.SkipNodeUpdate && state.touches > 0)) {
      const owner = nodeIds.get(body.ID.toLowerCase());
      if (owner !== undefined && owner !== nodeKey) refuse('.ID', `${body.ID} is already the ID of node ${JSON.stringify(owner)}`);
      nodeIds.set(body.ID.toLowerCase(), nodeKey);
    }
    const stamp = INDEX_BASE + state.touches;

    if (body.Service) {
      const id = body.Service.ID ?? body.Service.Service;
      const key = id.toLowerCase();
      const prev = state.services.get(key);
      state.services.set(key, { svc: body.Service, id, createIndex: prev?.createIndex ?? stamp, modifyIndex: stamp });
      const nameKey = body.Service.Service.toLowerCase();
      if (!serviceSpelling.has(nameKey)) serviceSpelling.set(nameKey, body.Service.Service);
    }
    body.Checks?.forEach((check) => {
      const path = `.${check.path}`;
      if (check.Node !== undefined && check.Node.toLowerCase() !== nodeKey) refuse(`${path}.Node`, `is ${JSON.stringify(check.Node)} but the registration is for node ${JSON.stringify(body.Node)}`);
      let serviceKey: string | null = null;
      if (check.ServiceID !== undefined) {
        serviceKey = check.ServiceID.toLowerCase();
        if (!state.services.has(serviceKey)) refuse(`${path}.ServiceID`, `${JSON.stringify(check.ServiceID)} is not a service registered on node ${JSON.stringify(body.Node)} (register the service first)`);
      }
      const key = check.CheckID.toLowerCase();
      const prev = state.checks.get(key);
      state.checks.set(key, { check, serviceKey, createIndex: prev?.createIndex ?? stamp, modifyIndex: stamp });
    });
  });

  const nodes = new Map<string, ConsulNode>();
  const nodeChecks = new Map<string, readonly HealthCheck[]>();
  const instancesByService = new Map<string, ConsulInstance[]>();
  for (const state of states.values()) {
    const b = state.body;
    const node: ConsulNode = {
      ID: b.ID ?? '',
      Node: b.Node,
      Address: b.Address ?? '',
      Datacenter: datacenter,
      // Consul keeps what the registration sent: a node registered without them renders null.
      TaggedAddresses: b.TaggedAddresses ?? null,
      Meta: b.NodeMeta ?? null,
      CreateIndex: state.createIndex,
      ModifyIndex: state.modifyIndex,
    };
    nodes.set(node.Node, node);

    const services = new Map<string, NodeService>();
    for (const [key, s] of state.services) {
      const svc = s.svc;
      const ns: NodeService = {
        ID: s.id,
        Service: svc.Service,
        Tags: svc.Tags ?? [],
        Address: svc.Address ?? '',
        ...(svc.TaggedAddresses ? { TaggedAddresses: svc.TaggedAddresses } : {}),
        Meta: svc.Meta ?? {},
        Port: svc.Port ?? 0,
        Weights: svc.Weights ?? { Passing: 1, Warning: 1 },
        EnableTagOverride: svc.EnableTagOverride ?? false,
        CreateIndex: s.createIndex,
        ModifyIndex: s.modifyIndex,
      };
      services.set(key, ns);
    }

    const ownChecks: HealthCheck[] = [];
    const checksByService = new Map<string, HealthCheck[]>();
    const sortedChecks = [...state.checks.entries()].sort(([a], [b]) => compareStrings(a, b));
    for (const [, c] of sortedChecks) {
      const svc = c.serviceKey === null ? undefined : services.get(c.serviceKey);
      const hc: HealthCheck = {
        Node: node.Node,
        CheckID: c.check.CheckID,
        Name: c.check.Name,
        // Consul's catalog stores a check registered without a status as critical (never passing by accident).
        Status: c.check.Status ?? 'critical',
        Notes: c.check.Notes ?? '',
        Output: c.check.Output ?? '',
        ServiceID: svc?.ID ?? '',
        ServiceName: svc?.Service ?? '',
        ServiceTags: svc?.Tags ?? [],
        Type: c.check.Type ?? '',
        Interval: c.check.Interval ?? '',
        Timeout: c.check.Timeout ?? '',
        CreateIndex: c.createIndex,
        ModifyIndex: c.modifyIndex,
      };
      if (c.serviceKey === null) ownChecks.push(hc);
      else {
        const list = checksByService.get(c.serviceKey);
        if (list) list.push(hc);
        else checksByService.set(c.serviceKey, [hc]);
      }
    }
    nodeChecks.set(node.Node, ownChecks);

    for (const [key, service] of services) {
      const instance: ConsulInstance = { node, service, checks: [...ownChecks, ...(checksByService.get(key) ?? [])] };
      const nameKey = service.Service.toLowerCase();
      const list = instancesByService.get(nameKey);
      if (list) list.push(instance);
      else instancesByService.set(nameKey, [instance]);
    }
  }

  const services = new Map<string, ConsulService>();
  for (const key of [...instancesByService.keys()].sort(compareStrings)) {
    const instances = instancesByService.get(key)!.sort(compareInstances);
    services.set(key, { name: serviceSpelling.get(key) ?? instances[0]!.service.Service, instances });
  }
  return { nodes, services, nodeChecks };
}
