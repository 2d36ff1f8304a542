// The admin listener: kill-switch, mode, pins, explain, audit, Sidecars, /metrics, /healthz,
// /readyz. Separate from the Consul listener so operators' controls never share its exposure
// or load; bearer-token protected, and refused off loopback without a token (config enforces it).

import { timingSafeEqual, createHash } from 'node:crypto';
import Fastify, { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import type { AppContext } from '../app-context.ts';
import type { Mode } from '../decision/decide.ts';
import { MODES } from '../decision/decide.ts';
import { DiscoveryError, errorMessage } from '../platform/errors.ts';
import { explain } from '../lookup/explain.ts';
import type { SidecarGateView } from '../lookup/sidecar-gate.ts';

export interface AdminDeps {
  readonly ready: () => { ready: boolean; detail: Record<string, unknown> };
  readonly gate: () => SidecarGateView;
  readonly sidecars: () => { enabled: boolean; items: readonly object[]; status: Record<string, unknown> };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function actorOf(req: FastifyRequest): string {
  const claimed = req.headers['x-discovery-actor'];
  const who = typeof claimed === 'string' && claimed.trim() ? claimed.trim().slice(0, 120) : 'unknown';
  return `${who} via ${req.socket.remoteAddress ?? '?'}`;
}

function bodyObject(req: FastifyRequest): Record<string, unknown> {
  const b = req.body;
  if (b === undefined || b === null) return {};
  if (typeof b !== 'object' || Array.isArray(b)) throw new DiscoveryError('DSC_ERR_BAD_REQUEST', 'body must be a JSON object');
  return b as Record<string, unknown>;
}

function str(o: Record<string, unknown>, key: string, required: boolean): string | undefined {
  const v = o[key];
  if (v === undefined || v === null || v === '') {
    if (required) throw new DiscoveryError('DSC_ERR_BAD_REQUEST', `"${key}" is required`);
    return undefined;
  }
  if (typeof v !== 'string' || v.length > 1000) throw new DiscoveryError('DSC_ERR_BAD_REQUEST', `"${key}" must be a string of at most 1000 characters`);
  return v;
}

export function buildAdminServer(ctx: AppContext, deps: AdminDeps) {
  const app = Fastify({ loggerInstance: ctx.log.child({ component: 'admin' }), logController: new LogController({ disableRequestLogging: true }), bodyLimit: 64 * 1024 });
  const token = ctx.config.adminToken;
  const tokenDigest = token ? digest(token) : null;

  app.addHook('onRequest', async (req, reply) => {
    if (!tokenDigest || req.url === '/healthz' || req.url === '/readyz') return;
    const h = req.headers.authorization;
    const given = typeof h === 'string' && h.startsWith('Bearer ') ? h.slice(7) : '';
    if (!timingSafeEqual(digest(given), tokenDigest)) {
      await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'a valid bearer token is required (DISCOVERY_ADMIN_TOKEN)' });
    }
  });

  app.setErrorHandler(async (err: unknown, _req, reply: FastifyReply) => {
    if (err instanceof DiscoveryError) return reply.code(err.code === 'DSC_ERR_BAD_REQUEST' ? 400 : 500).send({ error: err.message, code: err.code });
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) return reply.code(status).send({ error: errorMessage(err) });
    ctx.log.error({ err }, 'admin request failed');
    return reply.code(500).send({ error: errorMessage(err) });
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const r = deps.ready();
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not ready', ...r.detail });
  });
  app.get('/metrics', async (_req, reply) => {
    ctx.metrics.setMode(ctx.control.mode);
    const counts = new Map<string, number>();
    for (const p of ctx.world.world.problems) counts.set(p.kind, (counts.get(p.kind) ?? 0) + 1);
    ctx.metrics.worldProblems.reset();
    for (const [kind, n] of counts) ctx.metrics.worldProblems.set({ kind }, n);
    return reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
  });

  app.get('/v1/control', async () => ctx.control.state);

  app.put('/v1/control/mode', async (req) => {
    const b = bodyObject(req);
    const mode = str(b, 'mode', true) as Mode;
    if (!MODES.includes(mode)) throw new DiscoveryError('DSC_ERR_BAD_REQUEST', `mode must be one of ${MODES.join(', ')}`);
    const reason = str(b, 'reason', mode === 'consul-only') ?? '';
    const state = await ctx.control.setMode(mode, { actor: actorOf(req), reason });
    ctx.log.warn({ mode, reason, actor: actorOf(req) }, 'mode changed');
    return state;
  });

  app.put('/v1/pins', async (req) => {
    const b = bodyObject(req);
    const service = str(b, 'service', true)!;
    const caller = str(b, 'caller', false);
    const reason = str(b, 'reason', true)!;
    const state = await ctx.control.pin(service, caller, { actor: actorOf(req), reason });
    ctx.log.warn({ service, caller, reason, actor: actorOf(req) }, 'pinned to HAProxy');
    return state;
  });

  app.delete('/v1/pins', async (req) => {
    const b = bodyObject(req);
    const service = str(b, 'service', true)!;
    const caller = str(b, 'caller', false);
    const reason = str(b, 'reason', false) ?? '';
    const state = await ctx.control.unpin(service, caller, { actor: actorOf(req), reason });
    ctx.log.warn({ service, caller, actor: actorOf(req) }, 'unpinned');
    return state;
  });

  app.get('/v1/explain', async (req) => {
    const q = req.query as Record<string, unknown>;
    const service = typeof q['service'] === 'string' ? q['service'] : '';
    const from = typeof q['from'] === 'string' ? q['from'] : '';
    if (!service) throw new DiscoveryError('DSC_ERR_BAD_REQUEST', '"service" is required');
    if (!from) throw new DiscoveryError('DSC_ERR_BAD_REQUEST', '"from" (caller IP) is required');
    return explain({ lookups: ctx.lookups, world: ctx.world, control: ctx.control, gate: deps.gate() }, service, from);
  });

  app.get('/v1/audit', async (req) => {
    const q = req.query as Record<string, unknown>;
    const limit = typeof q['limit'] === 'string' && /^\d{1,6}$/.test(q['limit']) ? Number(q['limit']) : 100;
    return ctx.control.audit(limit);
  });

  app.get('/v1/sidecars', async (req) => {
    const q = req.query as Record<string, unknown>;
    const ns = typeof q['namespace'] === 'string' && q['namespace'] ? q['namespace'] : null;
    const s = deps.sidecars();
    const items = ns ? s.items.filter((o) => (o as { metadata?: { namespace?: string } }).metadata?.namespace === ns) : s.items;
    return { enabled: s.enabled, status: s.status, items };
  });

  app.get('/v1/world', async () => {
    const w = ctx.world.world;
    return {
      services: w.consul.services.size,
      nodes: w.consul.nodes.size,
      callers: w.callers.size,
      meshedTargets: [...w.targets.values()].filter((t) => t.status === 'meshed').length,
      problems: w.problems,
    };
  });

  return app;
}
