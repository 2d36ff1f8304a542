// /v1/agent/* and /v1/status/*: the agent's own node and the services registered through it.
// These endpoints carry no index headers. Tokens are resolved by the agent itself, so their 403s
// have no "rpc error making call:" prefix.

import { AGENT_ADDRESS, CONSUL_VERSION } from './agent-state.ts';
import { byName, nodeChecks } from './catalog-views.ts';
import { isObject, parseJsonBody, str } from './decode.ts';
import { readBody, type Exchange } from './exchange.ts';
import { evaluateFilter } from './filter.ts';
import { AGENT_SERVICE_SCHEMA } from './filter-schemas.ts';
import { goJson, sortedMap } from './json.ts';
import { requestFilter } from './reads.ts';
import { agentRegistration } from './register-body.ts';
import { renderAgentService, renderCheck } from './render.ts';
import { BODY_LIMIT } from './routes-catalog.ts';
import { exact, subtree, type Route, type RouteContext } from './route-types.ts';
import { ConsulHttpError, type CheckStatus, type NodeRecord } from './types.ts';

const JSON_TYPE: [string, string] = ['Content-Type', 'application/json'];

function sendJson(x: Exchange, value: unknown, headers: Array<[string, string]> = []): void {
  x.send(200, [JSON_TYPE, ...headers], goJson(value, x.has('pretty')));
}

function self(x: Exchange, { state }: RouteContext): void {
  const authz = state.acl.resolve(x.token(), false);
  if (!authz.agentRead()) throw authz.denied('agent:read', state.nodeName, false);
  const node = state.catalog.node(state.nodeName);
  const meta = sortedMap(node?.meta) ?? {};
  sendJson(x, {
    Config: {
      Datacenter: state.datacenter,
      PrimaryDatacenter: state.datacenter,
      NodeName: state.nodeName,
      NodeID: node?.id ?? '',
      Partition: '',
      Revision: 'consul-double',
      Server: false,
      Version: CONSUL_VERSION,
      BuildDate: '2025-01-01T00:00:00Z',
    },
    // The agent's sanitized runtime configuration: Go field names, as the real agent serializes it.
    DebugConfig: { Datacenter: state.datacenter, NodeName: state.nodeName, ACLsEnabled: state.acl.enabled, HTTPMaxConnsPerClient: state.maxConnsPerClient },
    Coord: { Vec: [0, 0, 0, 0, 0, 0, 0, 0], Error: 1.5, Adjustment: 0, Height: 0.00001 },
    Member: { Name: state.nodeName, Addr: AGENT_ADDRESS, Port: 8301, Tags: { dc: state.datacenter, role: 'node', build: CONSUL_VERSION }, Status: 1 },
    Stats: {},
    Meta: meta,
    xDS: null,
  });
}

function agentNode(ctx: RouteContext): NodeRecord {
  const node = ctx.state.catalog.node(ctx.state.nodeName);
  if (!node) throw new ConsulHttpError(500, `agent node ${ctx.state.nodeName} is not registered`);
  return node;
}

function services(x: Exchange, ctx: RouteContext): void {
  const { state } = ctx;
  const authz = state.acl.resolve(x.token(), false);
  const filter = requestFilter(x, AGENT_SERVICE_SCHEMA);
  const all = byName(agentNode(ctx).services.values(), (s) => s.id);
  const allowed = all.filter((s) => authz.serviceRead(s.name));
  const out: Record<string, unknown> = {};
  for (const s of allowed) {
    const rendered = renderAgentService(s, state.datacenter);
    if (!filter || evaluateFilter(filter, rendered)) out[s.id] = rendered;
  }
  sendJson(x, sortedMap(out), allowed.length < all.length ? [['X-Consul-Results-Filtered-By-Acls', 'true']] : []);
}

function checks(x: Exchange, ctx: RouteContext): void {
  const authz = ctx.state.acl.resolve(x.token(), false);
  const out: Record<string, unknown> = {};
  for (const c of nodeChecks(agentNode(ctx))) {
    if (authz.nodeRead(c.node) && (c.serviceId === '' || authz.serviceRead(c.serviceName))) out[c.checkId] = renderCheck(c);
  }
  sendJson(x, out);
}

async function register(x: Exchange, ctx: RouteContext): Promise<void> {
  const { state } = ctx;
  const req = agentRegistration(parseJsonBody(await readBody(x.req, BODY_LIMIT)), state.nodeName, AGENT_ADDRESS);
  const authz = state.acl.resolve(x.token(), false);
  if (!authz.agentWrite()) throw authz.denied('service:write', req.service?.name ?? '', false);
  const node = agentNode(ctx);
  const id = req.service?.id ?? '';
  const keep = new Set(req.checks.map((c) => c.checkId));
  state.catalog.validate(req);
  state.write((w) => {
    // The agent's definition replaces the service's checks: drop the ones no longer listed.
    for (const c of [...node.checks.values()]) if (c.serviceId === id && !keep.has(c.checkId)) state.catalog.deleteCheck(node.name, c.checkId, w);
    state.catalog.ensureRegistration(req, w);
  });
  x.send(200, []);
}

function deregister(x: Exchange, ctx: RouteContext, id: string): void {
  if (id === '') throw new ConsulHttpError(400, 'Missing service ID');
  const { state } = ctx;
  const authz = state.acl.resolve(x.token(), false);
  const svc = agentNode(ctx).services.get(id);
  if (!svc) throw new ConsulHttpError(404, `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`);
  if (!authz.agentWrite()) throw authz.denied('service:write', svc.name, false);
  state.write((w) => state.catalog.deleteService(state.nodeName, id, w));
  x.send(200, []);
}

function checkUpdate(fixed: CheckStatus | null) {
  return async (x: Exchange, ctx: RouteContext, checkId: string): Promise<void> => {
    if (checkId === '') throw new ConsulHttpError(400, 'Missing check ID');
    const { state } = ctx;
    const authz = state.acl.resolve(x.token(), false);
    const check = agentNode(ctx).checks.get(checkId);
    if (!check) throw new ConsulHttpError(404, `Unknown check ID "${checkId}". Ensure that the check ID is passed, not the check name.`);
    if (!authz.agentWrite()) throw authz.denied(check.serviceId === '' ? 'node:write' : 'service:write', check.serviceName || check.node, false);
    let status = fixed;
    let output = x.query.get('note') ?? '';
    if (status === null) {
      const body = parseJsonBody(await readBody(x.req, BODY_LIMIT));
      if (!isObject(body)) throw new ConsulHttpError(400, 'Request decode failed: expected an object');
      const s = str(body, 'Status', 'checkUpdate');
      if (s !== 'passing' && s !== 'warning' && s !== 'critical') throw new ConsulHttpError(400, `Invalid check status: '${s}'`);
      status = s;
      output = str(body, 'Output', 'checkUpdate');
    }
    const next = status;
    state.write((w) => state.catalog.setCheckStatus(state.nodeName, checkId, next, output, w));
    x.send(200, []);
  };
}

export const agentRoutes: readonly Route[] = [
  exact('/v1/agent/self', ['GET'], self),
  exact('/v1/agent/services', ['GET'], services),
  exact('/v1/agent/checks', ['GET'], checks),
  exact('/v1/agent/service/register', ['PUT'], register),
  subtree('/v1/agent/service/deregister/', ['PUT'], deregister),
  subtree('/v1/agent/check/pass/', ['PUT'], checkUpdate('passing')),
  subtree('/v1/agent/check/warn/', ['PUT'], checkUpdate('warning')),
  subtree('/v1/agent/check/fail/', ['PUT'], checkUpdate('critical')),
  subtree('/v1/agent/check/update/', ['PUT'], checkUpdate(null)),
  exact('/v1/status/leader', ['GET'], (x) => sendJson(x, `${AGENT_ADDRESS}:8300`)),
  exact('/v1/status/peers', ['GET'], (x) => sendJson(x, [`${AGENT_ADDRESS}:8300`])),
];
