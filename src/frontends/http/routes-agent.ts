// /v1/agent/* (this agent's own registrations, self and members), /v1/status/*, and the KV refusal.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { compareStrings } from '../../platform/compare.ts';
import { AgentRequestError, toHealthCheck, type AgentRegistrations } from '../../sources/agent/registrations.ts';
import { decodeServiceRegistration } from './agent-requests.ts';
import { compileFilter } from './filter.ts';
import { first, parseQueryString, HttpError } from './params.ts';
import type { HttpDeps } from './read-handler.ts';
import { pathParam } from './read-handler.ts';
import { AGENT_SERVICE_FIELDS, goJson, renderAgentService, renderCheck } from './render.ts';
import { sendError, sendFailure, sendJsonText, TEXT } from './reply.ts';
import { route } from './routing.ts';

/** The version reported in agent/self and members; clients only check that it parses. */
export const CONSUL_VERSION = '1.17.0';

export interface AgentIdentity {
  /** `ip:port` reported as the Raft leader and sole peer (status endpoints). */
  readonly serverAddress: string;
  /** This agent's own address (members, agent registrations). */
  readonly address: string;
}

function pretty(req: FastifyRequest): boolean {
  return parseQueryString(req.url).has('pretty');
}

/** PUT bodies arrive as text (any Content-Type, as Consul accepts); decode as Consul does. */
function jsonBody(req: FastifyRequest, optional = false): unknown {
  const raw = req.body;
  if (raw === undefined || raw === null || raw === '') {
    if (optional) return {};
    throw new HttpError(400, 'Request decode failed: empty body');
  }
  try {
    return JSON.parse(typeof raw === 'string' ? raw : Buffer.isBuffer(raw) ? raw.toString('utf8') : '');
  } catch (err) {
    throw new HttpError(400, `Request decode failed: ${(err as Error).message}`);
  }
}

/** Consul's status codes for what the agent refuses. */
const AGENT_STATUS: Readonly<Record<AgentRequestError['kind'], number>> = { 'unknown-service': 404, 'unknown-check': 404, 'not-ttl': 500, 'bad-status': 400 };

function agentFailure(err: unknown): unknown {
  return err instanceof AgentRequestError ? new HttpError(AGENT_STATUS[err.kind], err.message) : err;
}

export function registerAgentRoutes(app: FastifyInstance, deps: HttpDeps, agent: AgentRegistrations, id: AgentIdentity): void {
  const { config } = deps.ctx;

  route(app, 'GET', '/v1/agent/self', (req, reply) => {
    const body = {
      Config: {
        Datacenter: config.datacenter,
        PrimaryDatacenter: config.datacenter,
        NodeName: config.nodeName,
        NodeID: '',
        Revision: 'discovery',
        Server: false,
        Version: CONSUL_VERSION,
        BuildDate: '1970-01-01T00:00:00Z',
      },
      DebugConfig: {},
      Coord: { Vec: [0, 0, 0, 0, 0, 0, 0, 0], Error: 1.5, Adjustment: 0, Height: 0.00001 },
      Member: memberOf(config.nodeName, id.address, config.datacenter),
      Stats: {},
      Meta: { 'consul-network-segment': '', 'consul-version': CONSUL_VERSION },
      xDS: { SupportedProxies: {}, Port: -1, Ports: {} },
    };
    sendJsonText(reply, goJson(body, pretty(req)));
  });

  route(app, 'GET', '/v1/agent/members', (req, reply) => {
    const q = parseQueryString(req.url);
    if (q.has('wan') && first(q, 'segment')) return sendError(reply, 400, 'Cannot provide a segment with wan=true');
    sendJsonText(reply, goJson([memberOf(config.nodeName, id.address, config.datacenter)], q.has('pretty')));
  });

  route(app, 'GET', '/v1/agent/services', (req, reply) => {
    try {
      const q = parseQueryString(req.url);
      const filter = first(q, 'filter') ?? '';
      let items = agent.services().map((s) => [s.ID, renderAgentService(s, config.datacenter)] as const);
      if (filter !== '') {
        const keep = compileFilter(filter, AGENT_SERVICE_FIELDS);
        items = items.filter(([, v]) => keep(v));
      }
      sendJsonText(reply, goJson(Object.fromEntries(items), q.has('pretty')));
    } catch (err) {
      sendFailure(reply, err);
    }
  });

  route(app, 'GET', '/v1/agent/service/*', (req, reply) => {
    try {
      const sid = pathParam(req, 'Missing service ID');
      const s = agent.service(sid);
      if (!s) return sendError(reply, 404, `unknown service ID: ${sid}`);
      const body = { ...(renderAgentService(s, config.datacenter) as object), ContentHash: String(s.ModifyIndex.toString(16)) };
      sendJsonText(reply, goJson(body, pretty(req)));
    } catch (err) {
      sendFailure(reply, err);
    }
  });

  route(app, 'GET', '/v1/agent/checks', (req, reply) => {
    const out: Record<string, unknown> = {};
    for (const c of [...agent.checks()].sort((a, b) => compareStrings(a.CheckID, b.CheckID))) {
      out[c.CheckID] = renderCheck(toHealthCheck(c, config.nodeName, agent.service(c.ServiceID)));
    }
    sendJsonText(reply, goJson(out, pretty(req)));
  });

  route(app, 'PUT', '/v1/agent/service/register', async (req, reply) => {
    try {
      await agent.register(decodeServiceRegistration(jsonBody(req)));
      reply.code(200).send();
    } catch (err) {
      sendFailure(reply, agentFailure(err));
    }
  });

  route(app, 'PUT', '/v1/agent/service/deregister/*', async (req, reply) => {
    try {
      await agent.deregister(pathParam(req, 'Missing service ID'));
      reply.code(200).send();
    } catch (err) {
      sendFailure(reply, agentFailure(err));
    }
  });

  const ttlStatus = { pass: 'passing', warn: 'warning', fail: 'critical' } as const;
  for (const [verb, status] of Object.entries(ttlStatus)) {
    route(app, 'PUT', `/v1/agent/check/${verb}/*`, async (req, reply) => {
      try {
        const checkId = pathParam(req, 'Missing check ID');
        await agent.updateCheck(checkId, status, first(parseQueryString(req.url), 'note') ?? '');
        reply.code(200).send();
      } catch (err) {
        sendFailure(reply, agentFailure(err));
      }
    });
  }

  route(app, 'PUT', '/v1/agent/check/update/*', async (req, reply) => {
    try {
      const checkId = pathParam(req, 'Missing check ID');
      const body = jsonBody(req) as Record<string, unknown>;
      const status = typeof body['Status'] === 'string' ? body['Status'] : '';
      const output = typeof body['Output'] === 'string' ? body['Output'] : '';
      await agent.updateCheck(checkId, status, output);
      reply.code(200).send();
    } catch (err) {
      sendFailure(reply, agentFailure(err));
    }
  });

  route(app, 'GET', '/v1/status/leader', (_req, reply) => sendJsonText(reply, JSON.stringify(id.serverAddress)));
  route(app, 'GET', '/v1/status/peers', (_req, reply) => sendJsonText(reply, JSON.stringify([id.serverAddress])));

  // Embedded mode has no KV store; a clear answer beats a 404 that looks like a missing key.
  app.all('/v1/kv/*', (_req, reply) => {
    reply.code(501).header('content-type', TEXT).send('KV is not available in embedded mode: Discovery serves the catalog and health APIs only');
  });
}

function memberOf(name: string, address: string, dc: string): unknown {
  return {
    Name: name,
    Addr: address,
    Port: 8301,
    Tags: { build: `${CONSUL_VERSION}:discovery`, dc, role: 'node', segment: '', vsn: '2', vsn_max: '3', vsn_min: '2' },
    Status: 1,
    ProtocolMin: 1,
    ProtocolMax: 5,
    ProtocolCur: 2,
    DelegateMin: 2,
    DelegateMax: 5,
    DelegateCur: 4,
  };
}
