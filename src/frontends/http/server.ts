// The Consul HTTP API front end (docs/consul-contract.md): a fastify instance with Consul's routes,
// errors and headers, an answer cache, and the blocking-query waiters. The caller is the socket's
// peer address (trustProxy off: a forwarded-for header must not choose the answer).

import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Core } from '../../lookup/core.ts';
import type { AgentRegistrations } from '../../sources/agent/registrations.ts';
import { AnswerCache } from './answer-cache.ts';
import { WaiterRegistry, type WakeReason } from './blocking.ts';
import { createHttpMetrics, routeMetricsOf } from './metrics.ts';
import type { HttpDeps } from './read-handler.ts';
import { sendError, setFailureLog, TEXT } from './reply.ts';
import { BLOCKING, FastPath } from './fast-path.ts';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseHostPort, type HostPort } from '../../platform/host-port.ts';
import { registerAgentRoutes, type AgentIdentity } from './routes-agent.ts';
import { catalogServiceHandler, registerCatalogRoutes } from './routes-catalog.ts';
import { healthServiceHandler, registerHealthRoutes } from './routes-health.ts';
import { buildLiveMode, type LiveMode } from './live-mode.ts';
import type { UpstreamConsul } from './upstream-view.ts';
import { holdTickShape } from '../../platform/tick-shape.ts';

export type { UpstreamConsul } from './upstream-view.ts';

// At module load, before a world is loaded: the collections that load triggers are what drop it.
holdTickShape();

export interface HttpServerOptions {
  /** `ip:port` reported by /v1/status/leader and peers; default: the httpAddr host with port 8300. */
  readonly serverAddress?: string;
  /** Largest accepted PUT body (bytes). Consul registrations are a few KB. */
  readonly bodyLimit?: number;
  /** Jitter source for blocking timeouts (tests pin it). */
  readonly random?: () => number;
  /** Called after each blocking query is answered (bench instrumentation). */
  readonly onBlockingAnswer?: (reason: WakeReason) => void;
  /**
   * Live mode: the upstream Consul agent. Requests Discovery does not answer go there as they
   * came, and everything does while the kill-switch is on (live-gate.ts). Absent: embedded mode.
   */
  readonly upstream?: UpstreamConsul;
}

export interface HttpFrontEnd {
  /** Not listening until `listen`; `inject` works at once. */
  readonly fastify: FastifyInstance;
  /** Number of parked blocking queries. */
  readonly waiting: () => number;
  /** `host:port` (IPv6 as `[::1]:8500`); resolves to the bound address (port 0 picks one). */
  listen(addr: string): Promise<{ host: string; port: number }>;
  /** Answers every parked blocking query now with the current index and body; returns how many. */
  drain(): number;
  /** Drains, stops listening, and closes idle keep-alive sockets. */
  close(): Promise<void>;
}

/** The listen address; the config has validated it, this guards direct callers (tests, benches). */
function listenAddress(addr: string): HostPort {
  const hp = parseHostPort(addr);
  if (!hp) throw new Error(`"${addr}" is not host:port`);
  return hp;
}

const UNKNOWN_PATH = 'Invalid URL path: not a recognized HTTP API endpoint\n';
const NOT_V1 = "Invalid URL path: if attempting to use the HTTP API, ensure the path starts with '/v1/'\n";
const UI_DISABLED = 'Consul Agent: UI disabled. To enable, set ui_config.enabled=true in the agent configuration and restart.';

/** `agent`: this agent's own registrations, written through the agent endpoints. */
export async function buildHttpServer(ctx: Core, agent: AgentRegistrations, opts: HttpServerOptions = {}): Promise<HttpFrontEnd> {
  const waiters = new WaiterRegistry();
  const live: LiveMode | null = opts.upstream ? buildLiveMode(ctx, opts.upstream) : null;
  const deps: HttpDeps = {
    ctx,
    cache: new AnswerCache(),
    waiters,
    random: opts.random ?? Math.random,
    onBlockingAnswer: opts.onBlockingAnswer,
    answerMeta: live?.answerMeta,
  };
  const metrics = createHttpMetrics(ctx.registry, () => waiters.size);
  const unsubscribe = ctx.bus.subscribe(waiters.onChange);

  // Typed as fastify's logger interface so the instance type stays the default FastifyInstance.
  const logger: FastifyBaseLogger = ctx.log.child({ component: 'http' });
  setFailureLog(logger);

  const routeMetrics = routeMetricsOf(metrics);
  const fast = new FastPath(
    [
      { prefix: '/v1/health/service/', label: '/v1/health/service/*', handler: healthServiceHandler(deps) },
      { prefix: '/v1/catalog/service/', label: '/v1/catalog/service/*', handler: catalogServiceHandler(deps) },
    ],
    routeMetrics,
  );

  const app = Fastify({
    loggerInstance: logger,
    // The hottest reads skip fastify's lifecycle (fast-path.ts); everything else is fastify's.
    serverFactory: (handler) => {
      const local = (req: IncomingMessage, res: ServerResponse): void => {
        if (!fast.serve(req, res)) handler(req, res);
      };
      const gate = live?.gate;
      const server = createServer(
        gate
          ? (req, res) => {
              if (!gate.route(req, res, local)) local(req, res);
            }
          : local,
      );
      // fastify applies these to servers it creates itself, not to a factory's.
      server.keepAliveTimeout = 72_000;
      server.requestTimeout = 0;
      return server;
    },
    // Request lines carry ?token=; per-request data goes to metrics, not logs.
    logController: new LogController({ disableRequestLogging: true }),
    // No per-request child logger (pino child() costs microseconds on a path that answers from a cache).
    childLoggerFactory: (logger) => logger,
    trustProxy: false,
    // Consul registers GET only: HEAD is a 405 there.
    exposeHeadRoutes: false,
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    // Long polls run up to 10 min + jitter; never cut them (docs/consul-contract.md#blocking-queries).
    requestTimeout: 0,
    connectionTimeout: 0,
    return503OnClosing: true,
  });

  // Consul decodes PUT bodies whatever the Content-Type (the Go api sends none); parse JSON in the route.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    fast.closing = true;
    live?.close();
    waiters.drain();
    done();
  });

  app.addHook('onResponse', (req, reply, done) => {
    const at = req.url.indexOf('?');
    routeMetrics(req.routeOptions.url ?? 'unknown').record(reply.statusCode, performance.now() - reply.elapsedTime, at >= 0 && BLOCKING.test(req.url.slice(at)));
    // Once closing, free keep-alive sockets as their last answer goes out instead of waiting for the client.
    if (closing) setImmediate(() => app.server.closeIdleConnections());
    done();
  });

  app.setErrorHandler((err: FastifyError, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) reply.log.error({ err }, 'HTTP request failed');
    sendError(reply, status, status === 413 ? 'Request body too large' : err.message);
  });

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?', 1)[0] ?? '';
    if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) return reply.code(200).header('content-type', TEXT).send(UI_DISABLED);
    reply.code(404).header('content-type', TEXT).send(path.startsWith('/v1/') ? UNKNOWN_PATH : NOT_V1);
  });

  const identity: AgentIdentity = {
    serverAddress: opts.serverAddress ?? defaultServerAddress(ctx.config.httpAddr),
    address: hostOf(ctx.config.httpAddr),
  };
  registerCatalogRoutes(app, deps);
  registerHealthRoutes(app, deps);
  registerAgentRoutes(app, deps, agent, identity);
  await app.ready();

  return {
    fastify: app,
    waiting: () => waiters.size,
    async listen(addr) {
      const { host, port } = listenAddress(addr);
      await app.listen({ host, port });
      const a = app.server.address();
      return typeof a === 'object' && a !== null ? { host: a.address, port: a.port } : { host, port };
    },
    drain: () => waiters.drain(),
    async close() {
      unsubscribe();
      waiters.drain();
      await app.close();
      live?.destroy();
    },
  };
}

function hostOf(addr: string): string {
  try {
    const h = listenAddress(addr).host;
    return h === '' || h === '0.0.0.0' || h === '::' ? '127.0.0.1' : h;
  } catch {
    return '127.0.0.1';
  }
}

function defaultServerAddress(httpAddr: string): string {
  const h = hostOf(httpAddr);
  return h.includes(':') ? `[${h}]:8300` : `${h}:8300`;
}
