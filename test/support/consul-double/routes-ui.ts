// GET /v1/internal/ui/services: one summary per service name over the whole catalog (see
// ui-summary.ts), served as Consul's agent serves it (agent/ui_endpoint.go UIServices over the
// Internal.ServiceDump RPC in agent/consul/internal_endpoint.go):
// - a normal read: ?stale/?consistent, ?index/?wait blocking, ?dc, the usual headers, and
//   X-Consul-Query-Backend (every read through the agent's setMeta carries it);
// - its index is the highest of the nodes, services and checks tables (state.ServiceDump), so a
//   write to any of them wakes a parked query, and nothing else does;
// - the rows are every service instance with its node's checks and its own, ACL-filtered as
//   /v1/health/service is (node:read and service:read), then narrowed by `?filter` over the
//   CheckServiceNode rows (ACLs first, as Consul does since 1.20.2), then summarized;
// - `?peer=<name>` asks for the services imported from that peer: the double has no peerings, so
//   the dump is empty and its index (the peered tables') is 0, reported as 1.

import { allInstances, instanceChecks } from './catalog-views.ts';
import type { Exchange } from './exchange.ts';
import { evaluateFilter } from './filter.ts';
import { CHECK_SERVICE_NODE_SCHEMA } from './filter-schemas.ts';
import { TABLE_CHECKS, TABLE_NODES, TABLE_SERVICES } from './index-table.ts';
import { readOptions, requestFilter, serveRead } from './reads.ts';
import { renderCheckServiceNode } from './render.ts';
import { exact, type Route, type RouteContext } from './route-types.ts';
import { summarizeServices, type DumpRow } from './ui-summary.ts';

const QUERY_BACKEND: ReadonlyArray<readonly [string, string]> = [['X-Consul-Query-Backend', 'blocking-query']];
const DUMP_TABLES = [TABLE_NODES, TABLE_SERVICES, TABLE_CHECKS];

function services(x: Exchange, { state, faults }: RouteContext): void {
  const opts = readOptions(x, state.datacenter);
  const authz = state.acl.resolve(x.token(), true);
  const filter = requestFilter(x, CHECK_SERVICE_NODE_SCHEMA);
  if ((x.query.get('peer') ?? '') !== '') {
    serveRead(x, state, faults, opts, {
      wakeOn: [],
      index: () => 0,
      answer: () => ({ status: 200, index: 0, json: [], headers: QUERY_BACKEND }),
    });
    return;
  }
  const index = (): number => state.indexes.max(...DUMP_TABLES);
  serveRead(x, state, faults, opts, {
    wakeOn: DUMP_TABLES,
    index,
    answer: () => {
      const all = allInstances(state);
      const allowed = all.filter((i) => authz.nodeRead(i.node.name) && authz.serviceRead(i.service.name));
      let rows: DumpRow[] = allowed.map((i) => ({ instance: i, checks: instanceChecks(i.node, i.service.id) }));
      if (filter) {
        rows = rows.filter((r) => evaluateFilter(filter, renderCheckServiceNode(r.instance.node, r.instance.service, r.checks, state.datacenter)));
      }
      return {
        status: 200,
        index: index(),
        json: summarizeServices(rows, state.datacenter),
        filteredByAcls: allowed.length < all.length,
        headers: QUERY_BACKEND,
      };
    },
  });
}

export const uiRoutes: readonly Route[] = [exact('/v1/internal/ui/services', ['GET'], services)];
