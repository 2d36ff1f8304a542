// The admin listener: kill-switch, mode, pins, explain, audit, Sidecars, /metrics, /healthz,
// /readyz. Separate from the Consul listener so operators' controls never share its exposure
// or load; bearer-token protected, and refused off loopback without a token (config enforces it).

import { timingSafeEqual, createHash } from 'node:crypto';
import Fastify, { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Core } from '../lookup/core.ts';
import { DiscoveryError, errorMessage } from '../platform/errors.ts';
import { explain } from '../lookup/explain.ts';
import type { AdminDeps } from './admin-deps.ts';
import { ControlWriteError } from '../control/control-store.ts';
import { registerControlStatusGauges } from '../control/metrics.ts';
import { controlView } from './control-view.ts';
import { StatusPageAuth, isStatusSignIn, statusRoutes } from './status-routes.ts';
import type { AuditQuery, ClearOverrideBody, ExplainQuery, LocalOverrideBody, ModeBody, PinBody, SidecarsQuery, UnpinBody } from './request-schemas.ts';
import { AUDIT_QUERY, CLEAR_OVERRIDE_BODY, EXPLAIN_QUERY, LOCAL_OVERRIDE_BODY, MODE_BODY, PIN_BODY, SIDECARS_QUERY, UNPIN_BODY, validateRequestPart } from './request-schemas.ts';

export type { AdminDeps } from './admin-deps.ts';

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function actorOf(req: FastifyRequest): string {
  const claimed = req.headers['x-discovery-actor'];
  const who = typeof claimed === 'string' && claimed.trim() ? claimed.trim().slice(0, 120) : 'unknown';
  return `${who} via ${req.socket.remoteAddress ?? '?'}`;
}

export function buildAdminServer(ctx: Core, deps: AdminDeps) {
  const app = Fastify({ loggerInstance: ctx.log.child({ component: 'admin' }), logController: new LogController({ disableRequestLogging: true }), bodyLimit: 64 * 1024 });
  const token = ctx.config.adminToken;
  const tokenDigest = token ? digest(token) : null;
  // The control gauges /metrics exports with the control API (registered once per registry).
  registerControlStatusGauges(ctx.registry, () => ctx.control.status());

  const statusAuth = token ? new StatusPageAuth(token) : null;

  app.addHook('onRequest', async (req, reply) => {
    if (!tokenDigest || req.url === '/healthz' || req.url === '/readyz' || isStatusSignIn(req)) return;
    const h = req.headers.authorization;
    const given = typeof h === 'string' && h.startsWith('Bearer ') ? h.slice(7) : '';
    // A browser shows the status page with the cookie its sign-in form set (status-routes.ts).
    if (!timingSafeEqual(digest(given), tokenDigest) && !statusAuth?.allows(req) && !(await statusAuth?.refuse(req, reply))) {
      await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'a valid bearer token is required (DISCOVERY_ADMIN_TOKEN)' });
    }
  });

  app.setErrorHandler(async (err: unknown, _req, reply: FastifyReply) => {
    // The shared control state could not be changed: 503, and the way out (this replica's local override).
    if (err instanceof ControlWriteError) return reply.code(503).send({ error: err.message, code: err.code, localOverride: '/v1/control/local-override' });
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
    return reply.type(ctx.registry.contentType).send(await ctx.registry.metrics());
  });

  void app.register(statusRoutes(ctx, deps, statusAuth));

  app.get('/v1/control', async () => controlView(ctx.control.status()));

  app.put<{ Body: ModeBody }>('/v1/control/mode', { schema: { body: MODE_BODY }, validatorCompiler: validateRequestPart }, async (req) => {
    const { mode } = req.body;
    const reason = req.body.reason ?? '';
    await ctx.control.setMode(mode, { actor: actorOf(req), reason });
    ctx.log.warn({ mode, reason, actor: actorOf(req) }, 'mode changed');
    return controlView(ctx.control.status());
  });

  app.put<{ Body: LocalOverrideBody }>('/v1/control/local-override', { schema: { body: LOCAL_OVERRIDE_BODY }, validatorCompiler: validateRequestPart }, async (req) => {
    const { mode, reason } = req.body;
    const status = await ctx.control.setLocalOverride(mode, { actor: actorOf(req), reason });
    ctx.log.warn({ mode, reason, actor: actorOf(req) }, 'local override set: this replica ignores the shared mode until it is cleared');
    return controlView(status);
  });

  app.delete<{ Body: ClearOverrideBody }>('/v1/control/local-override', { schema: { body: CLEAR_OVERRIDE_BODY }, validatorCompiler: validateRequestPart }, async (req) => {
    const reason = req.body?.reason ?? '';
    const status = await ctx.control.clearLocalOverride({ actor: actorOf(req), reason });
    ctx.log.warn({ mode: status.mode, actor: actorOf(req) }, 'local override cleared: the shared mode is in force');
    return controlView(status);
  });

  app.put<{ Body: PinBody }>('/v1/pins', { schema: { body: PIN_BODY }, validatorCompiler: validateRequestPart }, async (req) => {
    const { service, reason } = req.body;
    const caller = req.body.caller || undefined;
    await ctx.control.pin(service, caller, { actor: actorOf(req), reason });
    ctx.log.warn({ service, caller, reason, actor: actorOf(req) }, 'pinned to HAProxy');
    return controlView(ctx.control.status());
  });

  app.delete<{ Body: UnpinBody }>('/v1/pins', { schema: { body: UNPIN_BODY }, validatorCompiler: validateRequestPart }, async (req) => {
    const { service } = req.body;
    const caller = req.body.caller || undefined;
    const reason = req.body.reason ?? '';
    await ctx.control.unpin(service, caller, { actor: actorOf(req), reason });
    ctx.log.warn({ service, caller, actor: actorOf(req) }, 'unpinned');
    return controlView(ctx.control.status());
  });

  app.get<{ Querystring: ExplainQuery }>('/v1/explain', { schema: { querystring: EXPLAIN_QUERY }, validatorCompiler: validateRequestPart }, async (req) => {
    const { service, from } = req.query;
    return explain({ lookups: ctx.lookups, world: ctx.world, control: ctx.control, gate: deps.gate }, service, from);
  });

  app.get<{ Querystring: AuditQuery }>('/v1/audit', { schema: { querystring: AUDIT_QUERY }, validatorCompiler: validateRequestPart }, async (req) => {
    return ctx.control.audit(req.query.limit ?? 100);
  });

  app.get<{ Querystring: SidecarsQuery }>('/v1/sidecars', { schema: { querystring: SIDECARS_QUERY }, validatorCompiler: validateRequestPart }, async (req) => {
    const ns = req.query.namespace || null;
    const s = deps.sidecars();
    const items = ns ? s.items.filter((o) => (o as { metadata?: { namespace?: string } }).metadata?.namespace === ns) : s.items;
    return { enabled: s.enabled, status: s.status, items };
  });

  app.get('/v1/world', async () => {
    const w = ctx.world.current;
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
