// The status page on the admin listener: GET /status (HTML), GET /v1/status (the same data as JSON),
// and the sign-in form a browser needs. The admin API takes a bearer token, which a browser does not
// send by itself: GET /status also accepts a cookie set by POST /status/login once the admin token
// was typed into its form. The cookie holds a value derived from the token (an HMAC), so it cannot
// be used as the token, and is sent only to /status paths (SameSite=Strict, HttpOnly). Neither the
// token nor the cookie value ever appears in a page.

import { createHmac, timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Core } from '../lookup/core.ts';
import type { AdminDeps } from './admin-deps.ts';
import { assembleStatus, type StatusData } from './status-data.ts';
import { renderLoginPage, renderStatusPage } from './status-html.ts';

const COOKIE = 'discovery_status';
const COOKIE_MAX_AGE_S = 8 * 3600;
const HTML_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

function pathOf(req: FastifyRequest): string {
  const q = req.url.indexOf('?');
  return q < 0 ? req.url : req.url.slice(0, q);
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** The cookie value for a token: proves the token was given without being usable as one. */
function cookieValueFor(token: string): string {
  return createHmac('sha256', token).update('discovery status page').digest('base64url');
}

function cookieOf(req: FastifyRequest): string {
  const header = req.headers.cookie ?? '';
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === COOKIE) return part.slice(eq + 1).trim();
  }
  return '';
}

/** Sign-in paths: open to anyone (the form checks the token itself). */
export function isStatusSignIn(req: FastifyRequest): boolean {
  const p = pathOf(req);
  return p === '/status/login' || p === '/status/logout';
}

/** The admin token's rules for the status page, beside the bearer check of every admin path. */
export class StatusPageAuth {
  readonly #token: string;
  readonly #cookie: Buffer;

  constructor(token: string) {
    this.#token = token;
    this.#cookie = digest(cookieValueFor(token));
  }

  /** GET /status with the cookie of this token. */
  allows(req: FastifyRequest): boolean {
    return req.method === 'GET' && pathOf(req) === '/status' && timingSafeEqual(digest(cookieOf(req)), this.#cookie);
  }

  /** A refused GET /status gets the sign-in form (401) instead of the JSON error. */
  async refuse(req: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    if (req.method !== 'GET' || pathOf(req) !== '/status') return false;
    await reply.code(401).headers(HTML_HEADERS).send(renderLoginPage({ failed: false }));
    return true;
  }

  tokenMatches(given: string): boolean {
    return timingSafeEqual(digest(given), digest(this.#token));
  }

  cookie(): string {
    return `${COOKIE}=${cookieValueFor(this.#token)}; Path=/status; HttpOnly; SameSite=Strict; Max-Age=${COOKIE_MAX_AGE_S}`;
  }
}

export function statusData(ctx: Core, deps: AdminDeps): StatusData {
  const r = deps.ready();
  const s = deps.sidecars();
  return assembleStatus({
    world: ctx.world.current,
    kubeStale: ctx.world.kubeStale,
    control: ctx.control.status(),
    evaluate: (caller, service) => ctx.lookups.evaluate(caller, service).decision,
    describePair: (caller, service) => deps.gate.describe(caller, service),
    ready: r.ready,
    readyDetail: r.detail,
    sidecars: { enabled: s.enabled, status: s.status },
    now: new Date(ctx.clock.now()),
  });
}

/** The routes, as a plugin: `app.register(statusRoutes(...))` (the admin hooks apply to them). */
export function statusRoutes(ctx: Core, deps: AdminDeps, auth: StatusPageAuth | null): FastifyPluginAsync {
  return async (app) => {
    app.get('/status', async (_req, reply) => reply.headers(HTML_HEADERS).send(renderStatusPage(statusData(ctx, deps))));
    app.get('/v1/status', async () => statusData(ctx, deps));
    app.get('/status/login', async (_req, reply) => {
      if (!auth) return reply.redirect('/status', 303);
      return reply.headers(HTML_HEADERS).send(renderLoginPage({ failed: false }));
    });
    // The form's body is parsed in this plugin only: no other admin route takes form data.
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(String(body))));
    });
    app.post('/status/login', async (req, reply) => {
      if (!auth) return reply.redirect('/status', 303);
      const body = req.body as Record<string, unknown> | null;
      const given = typeof body?.['token'] === 'string' ? body['token'] : '';
      if (!auth.tokenMatches(given)) return reply.code(401).headers(HTML_HEADERS).send(renderLoginPage({ failed: true }));
      return reply.header('set-cookie', auth.cookie()).redirect('/status', 303);
    });
    app.post('/status/logout', async (_req, reply) => reply.header('set-cookie', `${COOKIE}=; Path=/status; HttpOnly; SameSite=Strict; Max-Age=0`).redirect('/status/login', 303));
  };
}
