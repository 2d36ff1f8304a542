// /v1/catalog/*. The service list and node views are Consul's data (the mesh choice changes
// addresses, not which services exist); catalog/service/:s is answered per caller.

import type { FastifyInstance } from 'fastify';
import type { ConsulCatalog, ConsulInstance } from '../../world/consul-types.ts';
import { byteCompare, catalogViews } from './catalog-views.ts';
import { compileFilter } from './filter.ts';
import { shapeKey, type ReadOptions } from './params.ts';
import { pathParam, readOptions, serveRead, type HttpDeps, type ReadEndpoint } from './read-handler.ts';
import { NODE_FIELDS, SERVICE_NODE_FIELDS, goJson, renderNode, renderNodeService, renderServiceNode } from './render.ts';
import { sendFailure, sendJsonText } from './reply.ts';
import { route } from './routing.ts';
import { serviceEndpoint } from './service-answers.ts';
import { callerIpOf } from './routes-health.ts';
import type { ReadHandler } from './exchange.ts';

/** A catalog-wide answer: index = Consul's services-table index, version = the catalog object itself. */
function catalogEndpoint(deps: HttpDeps, slot: string, o: ReadOptions, build: (c: ConsulCatalog) => unknown): ReadEndpoint {
  const { world } = deps.ctx;
  const fullSlot = `${slot}\0${shapeKey(o)}`;
  return {
    service: null,
    callerIp: null,
    evaluate: () => {
      const catalog = world.current.consul;
      return { index: world.catalog, slot: fullSlot, version: catalog, build: () => goJson(build(catalog), o.pretty) };
    },
    index: () => world.catalog,
  };
}

function nodeMetaMatches(meta: Readonly<Record<string, string>> | null, o: ReadOptions): boolean {
  for (const [k, v] of o.nodeMeta) if (meta?.[k] !== v) return false;
  return true;
}

/** name → deduplicated tags (each `[]` when untagged), keys in byte order as Go's encoder writes them. */
function servicesMap(c: ConsulCatalog, o: ReadOptions): Record<string, string[]> {
  const keep = o.filter === '' ? null : compileFilter(o.filter, SERVICE_NODE_FIELDS);
  const out = new Map<string, Set<string>>();
  for (const svc of c.services.values()) {
    for (const i of svc.instances) {
      if (!nodeMetaMatches(i.node.Meta, o)) continue;
      if (keep && !keep(renderServiceNode(i))) continue;
      let tags = out.get(svc.name);
      if (!tags) out.set(svc.name, (tags = new Set()));
      for (const t of i.service.Tags) tags.add(t);
    }
  }
  const result: Record<string, string[]> = {};
  for (const name of [...out.keys()].sort(byteCompare)) result[name] = [...out.get(name)!];
  return result;
}

function nodeServicesMap(instances: readonly ConsulInstance[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const i of instances) out[i.service.ID] = renderNodeService(i.service);
  return out;
}

/** GET /v1/catalog/service/:s — also served by the fast path (fast-path.ts). */
export function catalogServiceHandler(deps: HttpDeps): ReadHandler {
  return (req, reply) => {
    const parsed = readOptions(deps, req, reply);
    if (!parsed) return;
    try {
      const name = pathParam(req, 'Missing service name');
      serveRead(deps, req, reply, parsed.o, serviceEndpoint(deps, 'catalog-service', callerIpOf(req.socket.remoteAddress), name, parsed.o, false));
    } catch (err) {
      sendFailure(reply, err);
    }
  };
}

export function registerCatalogRoutes(app: FastifyInstance, deps: HttpDeps): void {
  route(app, 'GET', '/v1/catalog/services', (req, reply) => {
    const parsed = readOptions(deps, req, reply);
    if (!parsed) return;
    const { o } = parsed;
    serveRead(deps, req, reply, o, catalogEndpoint(deps, 'catalog-services', o, (c) => servicesMap(c, o)));
  });

  route(app, 'GET', '/v1/catalog/service/*', catalogServiceHandler(deps));

  route(app, 'GET', '/v1/catalog/nodes', (req, reply) => {
    const parsed = readOptions(deps, req, reply);
    if (!parsed) return;
    const { o } = parsed;
    serveRead(
      deps,
      req,
      reply,
      o,
      catalogEndpoint(deps, 'catalog-nodes', o, (c) => {
        const nodes = catalogViews(c)
          .nodeNames.map((n) => c.nodes.get(n))
          .filter((n) => n !== undefined && nodeMetaMatches(n.Meta, o))
          .map((n) => renderNode(n!));
        return o.filter === '' ? nodes : nodes.filter(compileFilter(o.filter, NODE_FIELDS));
      }),
    );
  });

  /** A read about one node: both node endpoints share parsing, errors and blocking; only the body differs. */
  const nodeRoute = (url: string, slot: string, body: (c: ConsulCatalog, name: string) => unknown): void =>
    route(app, 'GET', url, (req, reply) => {
      const parsed = readOptions(deps, req, reply);
      if (!parsed) return;
      try {
        const name = pathParam(req, 'Missing node name');
        serveRead(deps, req, reply, parsed.o, catalogEndpoint(deps, `${slot}\0${name}`, parsed.o, (c) => body(c, name)));
      } catch (err) {
        sendFailure(reply, err);
      }
    });

  nodeRoute('/v1/catalog/node/*', 'catalog-node', (c, name) => {
    const node = c.nodes.get(name);
    // Unknown node: `null` with the index headers (docs/consul-contract.md#read-endpoints).
    if (!node) return null;
    return { Node: renderNode(node), Services: nodeServicesMap(catalogViews(c).byNode.get(name) ?? []) };
  });

  nodeRoute('/v1/catalog/node-services/*', 'catalog-node-services', (c, name) => {
    const node = c.nodes.get(name);
    // Consul renders an unknown node as {"Node":null,"Services":null}; an empty list is kinder to clients.
    if (!node) return { Node: null, Services: [] };
    return { Node: renderNode(node), Services: (catalogViews(c).byNode.get(name) ?? []).map((i) => renderNodeService(i.service)) };
  });

  // No index headers on this one (docs/consul-contract.md#endpoint-indexes).
  route(app, 'GET', '/v1/catalog/datacenters', (_req, reply) => {
    sendJsonText(reply, goJson([deps.ctx.config.datacenter], false));
  });
}
