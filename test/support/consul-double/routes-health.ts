// /v1/health/*: instances with their checks under the per-service index (checks included), and
// check lists under the checks-table index, as agent/consul/state/catalog.go reports them.

import { allNodes, instanceChecks, nodeChecks, serviceInstances } from './catalog-views.ts';
import type { Exchange } from './exchange.ts';
import { evaluateFilter } from './filter.ts';
import { CHECK_SERVICE_NODE_SCHEMA, HEALTH_CHECK_SCHEMA } from './filter-schemas.ts';
import { TABLE_CHECKS, serviceEntry } from './index-table.ts';
import { nodeMetaFilters, nodeMetaMatches, readOptions, requestFilter, serveRead } from './reads.ts';
import { renderCheck, renderCheckServiceNode } from './render.ts';
import { hasTags } from './routes-catalog.ts';
import { subtree, type Route, type RouteContext } from './route-types.ts';
import { ConsulHttpError, type CheckRecord } from './types.ts';

const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** `?passing`: absent → false, present without a value → true, else Go's strconv.ParseBool. */
function passingParam(x: Exchange): boolean {
  if (!x.has('passing')) return false;
  const v = x.query.get('passing') ?? '';
  if (v === '' || TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw new ConsulHttpError(400, 'Invalid value for ?passing');
}

function service(x: Exchange, { state, faults }: RouteContext, name: string): void {
  if (name === '') throw new ConsulHttpError(400, 'Missing service name');
  const opts = readOptions(x, state.datacenter);
  const authz = state.acl.resolve(x.token(), true);
  const filter = requestFilter(x, CHECK_SERVICE_NODE_SCHEMA);
  const passing = passingParam(x);
  const tags = x.query.getAll('tag');
  const meta = nodeMetaFilters(x);
  serveRead(x, state, faults, opts, {
    wakeOn: [serviceEntry(name)],
    index: () => state.serviceIndex(name, true),
    answer: () => {
      const rows = serviceInstances(state, name).filter((i) => hasTags(i, tags) && nodeMetaMatches(i.node.meta, meta));
      const allowed = rows.filter((i) => authz.nodeRead(i.node.name) && authz.serviceRead(i.service.name));
      let entries = allowed.map((i) => ({ i, checks: instanceChecks(i.node, i.service.id) }));
      // The HTTP handler drops instances with any non-passing check after the RPC (filterNonPassing).
      if (passing) entries = entries.filter((e) => e.checks.every((c) => c.status === 'passing'));
      let json = entries.map((e) => renderCheckServiceNode(e.i.node, e.i.service, e.checks, state.datacenter));
      if (filter) json = json.filter((e) => evaluateFilter(filter, e));
      return {
        status: 200,
        index: state.serviceIndex(name, true),
        json,
        filteredByAcls: allowed.length < rows.length,
        headers: [['X-Consul-Query-Backend', 'blocking-query']],
      };
    },
  });
}

/** A health-check list under the checks-table index, ACL-filtered (node:read, and service:read for service checks). */
function checkList(x: Exchange, { state, faults }: RouteContext, rows: () => CheckRecord[]): void {
  const opts = readOptions(x, state.datacenter);
  const authz = state.acl.resolve(x.token(), true);
  const filter = requestFilter(x, HEALTH_CHECK_SCHEMA);
  serveRead(x, state, faults, opts, {
    wakeOn: [TABLE_CHECKS],
    index: () => state.indexes.get(TABLE_CHECKS),
    answer: () => {
      const all = rows();
      const allowed = all.filter((c) => authz.nodeRead(c.node) && (c.serviceId === '' || authz.serviceRead(c.serviceName)));
      let json = allowed.map(renderCheck);
      if (filter) json = json.filter((e) => evaluateFilter(filter, e));
      return { status: 200, index: state.indexes.get(TABLE_CHECKS), json, filteredByAcls: allowed.length < all.length };
    },
  });
}

function checks(x: Exchange, ctx: RouteContext, name: string): void {
  if (name === '') throw new ConsulHttpError(400, 'Missing service name');
  const meta = nodeMetaFilters(x);
  checkList(x, ctx, () =>
    serviceInstances(ctx.state, name)
      .filter((i) => nodeMetaMatches(i.node.meta, meta))
      .flatMap((i) => instanceChecks(i.node, i.service.id).filter((c) => c.serviceId === i.service.id)),
  );
}

function nodeHealth(x: Exchange, ctx: RouteContext, name: string): void {
  if (name === '') throw new ConsulHttpError(400, 'Missing node name');
  checkList(x, ctx, () => {
    const n = ctx.state.catalog.node(name);
    return n ? nodeChecks(n) : [];
  });
}

function inState(x: Exchange, ctx: RouteContext, st: string): void {
  if (st === '') throw new ConsulHttpError(400, 'Missing check state');
  const meta = nodeMetaFilters(x);
  checkList(x, ctx, () =>
    allNodes(ctx.state)
      .filter((n) => nodeMetaMatches(n.meta, meta))
      .flatMap((n) => nodeChecks(n).filter((c) => st === 'any' || c.status === st)),
  );
}

export const healthRoutes: readonly Route[] = [
  subtree('/v1/health/service/', ['GET'], service),
  subtree('/v1/health/checks/', ['GET'], checks),
  subtree('/v1/health/node/', ['GET'], nodeHealth),
  subtree('/v1/health/state/', ['GET'], inState),
];
