// /v1/health/*: service (per caller), checks (per caller), node, state.

import type { FastifyInstance } from 'fastify';
import { normalizeIp } from '../../lookup/lookup.ts';
import { catalogViews } from './catalog-views.ts';
import { compileFilter } from './filter.ts';
import type { HttpError} from './params.ts';
import { parsePassing, shapeKey, type ReadOptions } from './params.ts';
import { pathParam, readOptions, serveRead, type HttpDeps, type ReadEndpoint } from './read-handler.ts';
import { CHECK_FIELDS, goJson, renderCheck } from './render.ts';
import { sendFailure } from './reply.ts';
import { route } from './routing.ts';
import type { ReadHandler } from './exchange.ts';
import { serviceEndpoint } from './service-answers.ts';
import type { HealthCheck } from '../../world/consul-types.ts';

export function callerIpOf(socketAddress: string | undefined): string {
  return socketAddress ? normalizeIp(socketAddress) : '';
}

function checksEndpoint(deps: HttpDeps, slot: string, o: ReadOptions, pick: (all: readonly HealthCheck[]) => HealthCheck[]): ReadEndpoint {
  const { world } = deps.ctx;
  return {
    service: null,
    callerIp: null,
    evaluate: () => {
      const catalog = world.current.consul;
      return {
        index: world.catalog,
        slot: `${slot}\0${shapeKey(o)}`,
        version: catalog,
        build: () => {
          const items = pick(catalogViews(catalog).checks).map(renderCheck);
          return goJson(o.filter === '' ? items : items.filter(compileFilter(o.filter, CHECK_FIELDS)), o.pretty);
        },
      };
    },
    index: () => world.catalog,
  };
}

/** Consul 1.10+ names the backend that answered health/service (docs/consul-contract.md#http-headers). */
const QUERY_BACKEND: readonly string[] = ['X-Consul-Query-Backend', 'blocking-query'];

const STATES = new Set(['any', 'passing', 'warning', 'critical']);

/** GET /v1/health/service/:s — also served by the fast path (fast-path.ts). */
export function healthServiceHandler(deps: HttpDeps): ReadHandler {
  return (req, reply) => {
    const parsed = readOptions(deps, req, reply);
    if (!parsed) return;
    let name: string;
    let passing: boolean | Error;
    try {
      name = pathParam(req, 'Missing service name');
    } catch (err) {
      return sendFailure(reply, err);
    }
    try {
      passing = parsePassing(parsed.q);
    } catch (err) {
      passing = err as HttpError;
    }
    serveRead(deps, req, reply, parsed.o, serviceEndpoint(deps, 'health-service', callerIpOf(req.socket.remoteAddress), name, parsed.o, passing), QUERY_BACKEND);
  };
}

export function registerHealthRoutes(app: FastifyInstance, deps: HttpDeps): void {
  route(app, 'GET', '/v1/health/service/*', healthServiceHandler(deps));

  route(app, 'GET', '/v1/health/checks/*', (req, reply) => {
    const parsed = readOptions(deps, req, reply);
    if (!parsed) return;
    try {
      const name = pathParam(req, 'Missing service name');
      serveRead(deps, req, reply, parsed.o, serviceEndpoint(deps, 'health-checks', callerIpOf(req.socket.remoteAddress), name, parsed.o, false));
    } catch (err) {
      sendFailure(reply, err);
    }
  });

  route(app, 'GET', '/v1/health/node/*', (req, reply) => {
    const parsed = readOptions(deps, req, reply);
    if (!parsed) return;
    try {
      const node = pathParam(req, 'Missing node name');
      serveRead(deps, req, reply, parsed.o, checksEndpoint(deps, `health-node\0${node}`, parsed.o, (all) => all.filter((c) => c.Node === node)));
    } catch (err) {
      sendFailure(reply, err);
    }
  });

  route(app, 'GET', '/v1/health/state/*', (req, reply) => {
    const parsed = readOptions(deps, req, reply);
    if (!parsed) return;
    try {
      const state = pathParam(req, 'Missing check state');
      // An unknown state matches nothing: `[]`, as Consul answers.
      const pick = (all: readonly HealthCheck[]) => (state === 'any' ? [...all] : STATES.has(state) ? all.filter((c) => c.Status === state) : []);
      serveRead(deps, req, reply, parsed.o, checksEndpoint(deps, `health-state\0${state}`, parsed.o, pick));
    } catch (err) {
      sendFailure(reply, err);
    }
  });
}
