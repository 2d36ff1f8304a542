// /v1/catalog/*: reads with the indexes of agent/consul/state/catalog.go, ACL filtering before the
// `?filter` expression (Consul 1.20.2+), and the register/deregister writes.
//
// The index never depends on `?filter`: the catalog and health RPCs (Catalog.ServiceNodes,
// Health.ServiceNodes in agent/consul/*_endpoint.go) take the index from the state store call
// (state.ServiceNodes / CheckServiceNodes → maxIndexForService), then run filterACL and
// filter.Execute on the rows only. So a filter nothing matches answers `[]` with the service's
// real index (an "index probe").

import type { AgentState } from './agent-state.ts';
import { allInstances, allNodes, byName, serviceInstances, serviceTags, type Instance } from './catalog-views.ts';
import { field, isObject, parseJsonBody, str } from './decode.ts';
import { readBody, type Exchange } from './exchange.ts';
import { evaluateFilter } from './filter.ts';
import { NODE_SCHEMA, NODE_SERVICE_SCHEMA, SERVICE_NODE_SCHEMA } from './filter-schemas.ts';
import { NODE_EXTINCTION, TABLE_NODES, TABLE_SERVICES, nodeEntry, serviceEntry } from './index-table.ts';
import { goJson } from './json.ts';
import { nodeMetaFilters, nodeMetaMatches, readOptions, requestFilter, serveRead } from './reads.ts';
import { catalogRegistration } from './register-body.ts';
import { renderNode, renderNodeService, renderServiceNode } from './render.ts';
import { exact, subtree, type Route, type RouteContext } from './route-types.ts';
import { ConsulHttpError } from './types.ts';

export const BODY_LIMIT = 32 * 1024 * 1024;

/** `?tag`, repeatable: the instance must carry every one, compared case-insensitively. */
export function hasTags(i: Instance, tags: readonly string[]): boolean {
  return tags.every((t) => i.service.tags.some((own) => own.toLowerCase() === t.toLowerCase()));
}

function services(x: Exchange, { state, faults }: RouteContext): void {
  const opts = readOptions(x, state.datacenter);
  const authz = state.acl.resolve(x.token(), true);
  const filter = requestFilter(x, SERVICE_NODE_SCHEMA);
  const meta = nodeMetaFilters(x);
  const index = (): number => (meta.length > 0 ? state.indexes.max(TABLE_SERVICES, TABLE_NODES) : state.indexes.get(TABLE_SERVICES));
  serveRead(x, state, faults, opts, {
    wakeOn: meta.length > 0 ? [TABLE_SERVICES, TABLE_NODES] : [TABLE_SERVICES],
    index,
    answer: () => {
      const out: Record<string, string[]> = {};
      let filteredByAcls = false;
      if (!filter && meta.length === 0) {
        for (const [name, tags] of serviceTags(state)) {
          if (authz.serviceRead(name)) out[name] = [...tags];
          else filteredByAcls = true;
        }
        return { status: 200, index: index(), json: out, filteredByAcls };
      }
      const sets = new Map<string, Set<string>>();
      for (const i of allInstances(state)) {
        if (!nodeMetaMatches(i.node.meta, meta)) continue;
        if (!authz.serviceRead(i.service.name)) {
          filteredByAcls = true;
          continue;
        }
        if (filter && !evaluateFilter(filter, renderServiceNode(i.node, i.service, state.datacenter))) continue;
        let set = sets.get(i.service.name);
        if (!set) sets.set(i.service.name, (set = new Set()));
        for (const t of i.service.tags) set.add(t);
      }
      for (const name of [...sets.keys()].sort()) out[name] = [...sets.get(name)!].sort();
      return { status: 200, index: index(), json: out, filteredByAcls };
    },
  });
}

function service(x: Exchange, { state, faults }: RouteContext, name: string): void {
  if (name === '') throw new ConsulHttpError(400, 'Missing service name');
  const opts = readOptions(x, state.datacenter);
  const authz = state.acl.resolve(x.token(), true);
  const filter = requestFilter(x, SERVICE_NODE_SCHEMA);
  const tags = x.query.getAll('tag');
  const meta = nodeMetaFilters(x);
  serveRead(x, state, faults, opts, {
    wakeOn: [serviceEntry(name)],
    index: () => state.serviceIndex(name, false),
    answer: () => {
      const rows = serviceInstances(state, name).filter((i) => hasTags(i, tags) && nodeMetaMatches(i.node.meta, meta));
      const allowed = rows.filter((i) => authz.nodeRead(i.node.name) && authz.serviceRead(i.service.name));
      let json = allowed.map((i) => renderServiceNode(i.node, i.service, state.datacenter));
      if (filter) json = json.filter((e) => evaluateFilter(filter, e));
      return { status: 200, index: state.serviceIndex(name, false), json, filteredByAcls: allowed.length < rows.length };
    },
  });
}

function nodes(x: Exchange, { state, faults }: RouteContext): void {
  const opts = readOptions(x, state.datacenter);
  const authz = state.acl.resolve(x.token(), true);
  const filter = requestFilter(x, NODE_SCHEMA);
  const meta = nodeMetaFilters(x);
  serveRead(x, state, faults, opts, {
    wakeOn: [TABLE_NODES],
    index: () => state.indexes.get(TABLE_NODES),
    answer: () => {
      const rows = allNodes(state).filter((n) => nodeMetaMatches(n.meta, meta));
      const allowed = rows.filter((n) => authz.nodeRead(n.name));
      let json = allowed.map((n) => renderNode(n, state.datacenter));
      if (filter) json = json.filter((e) => evaluateFilter(filter, e));
      return { status: 200, index: state.indexes.get(TABLE_NODES), json, filteredByAcls: allowed.length < rows.length };
    },
  });
}

/** /v1/catalog/node/:n (services as a map by ID) and /v1/catalog/node-services/:n (as a list). */
function node(asList: boolean) {
  return (x: Exchange, { state, faults }: RouteContext, name: string): void => {
    if (name === '') throw new ConsulHttpError(400, 'Missing node name');
    const opts = readOptions(x, state.datacenter);
    const authz = state.acl.resolve(x.token(), true);
    const filter = requestFilter(x, NODE_SERVICE_SCHEMA);
    serveRead(x, state, faults, opts, {
      wakeOn: [nodeEntry(name), NODE_EXTINCTION],
      index: () => state.nodeIndex(name),
      answer: () => {
        const n = state.catalog.node(name);
        const index = state.nodeIndex(name);
        const none = asList ? { Node: null, Services: null } : null;
        if (!n) return { status: 200, index, json: none };
        if (!authz.nodeRead(n.name)) return { status: 200, index, json: none, filteredByAcls: true };
        const svcs = byName(n.services.values(), (s) => s.id);
        const allowed = svcs.filter((s) => authz.serviceRead(s.name));
        let rendered = allowed.map(renderNodeService);
        if (filter) rendered = rendered.filter((e) => evaluateFilter(filter, e));
        const list = asList ? rendered : Object.fromEntries(rendered.map((s) => [s.ID as string, s]));
        return { status: 200, index, json: { Node: renderNode(n, state.datacenter), Services: list }, filteredByAcls: allowed.length < svcs.length };
      },
    });
  };
}

function datacenters(x: Exchange, { state }: RouteContext): void {
  x.send(200, [['Content-Type', 'application/json']], goJson([state.datacenter]));
}

async function register(x: Exchange, { state }: RouteContext): Promise<void> {
  const req = catalogRegistration(parseJsonBody(await readBody(x.req, BODY_LIMIT)));
  const authz = state.acl.resolve(x.token(), true);
  if (!authz.agentWrite()) throw authz.denied('node:write', req.node, true);
  state.catalog.validate(req);
  state.write((w) => state.catalog.ensureRegistration(req, w));
  x.send(200, [['Content-Type', 'application/json']], 'true');
}

async function deregister(x: Exchange, { state }: RouteContext): Promise<void> {
  const body = parseJsonBody(await readBody(x.req, BODY_LIMIT));
  if (!isObject(body)) throw new ConsulHttpError(400, 'Request decode failed: json: cannot unmarshal into structs.DeregisterRequest');
  const nodeName = str(body, 'Node', 'DeregisterRequest');
  if (nodeName === '') throw new ConsulHttpError(500, 'rpc error making call: Must provide node');
  const authz = state.acl.resolve(x.token(), true);
  if (!authz.agentWrite()) throw authz.denied('node:write', nodeName, true);
  const serviceId = field(body, 'ServiceID');
  const checkId = field(body, 'CheckID');
  applyDeregister(state, nodeName, typeof serviceId === 'string' ? serviceId : '', typeof checkId === 'string' ? checkId : '');
  x.send(200, [['Content-Type', 'application/json']], 'true');
}

/** Catalog.Deregister: a service (with its checks), else a check, else the whole node. */
export function applyDeregister(state: AgentState, nodeName: string, serviceId: string, checkId: string): number {
  return state.write((w) => {
    if (serviceId !== '') state.catalog.deleteService(nodeName, serviceId, w);
    else if (checkId !== '') state.catalog.deleteCheck(nodeName, checkId, w);
    else state.catalog.deleteNode(nodeName, w);
  }).idx;
}

export const catalogRoutes: readonly Route[] = [
  exact('/v1/catalog/services', ['GET'], services),
  subtree('/v1/catalog/service/', ['GET'], service),
  exact('/v1/catalog/nodes', ['GET'], nodes),
  subtree('/v1/catalog/node/', ['GET'], node(false)),
  subtree('/v1/catalog/node-services/', ['GET'], node(true)),
  exact('/v1/catalog/datacenters', ['GET'], datacenters),
  exact('/v1/catalog/register', ['PUT'], register),
  exact('/v1/catalog/deregister', ['PUT'], deregister),
];
