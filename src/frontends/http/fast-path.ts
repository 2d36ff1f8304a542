// The per-caller service reads (/v1/health/service/:s, /v1/catalog/service/:s) are what legacy
// clients hammer. fastify's request lifecycle costs more than the rest of such a read (bench/http.ts),
// so these two routes are dispatched before fastify, straight from the Node server, to the very
// same handlers fastify runs (handlers see only ReadRequest/ReadReply). Anything unusual — another
// method, a name that needs percent-decoding, a dot segment, shutdown in progress — falls through to
// fastify, which stays the reference for every edge case.

import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ReadHandler, ReadReply, ReadRequest } from './exchange.ts';
import type { RouteMetrics } from './metrics.ts';

/** Names served here: plain Consul service names. Everything else takes the fastify route. */
const PLAIN_NAME = /^(?!\.\.?$)[A-Za-z0-9_.-]+$/;
/** A query string that makes the read a blocking query. */
export const BLOCKING = /[?&]index=[^&]/;

type Peer = ReadRequest['socket'];

/**
 * The peer address of each kept-alive connection, read once: Node's remoteAddress getter goes
 * through the socket's handle on every read. A WeakMap rather than a property on the socket, so
 * Node's sockets keep their one hidden class.
 */
const peers = new WeakMap<Socket, Peer>();

function peerOf(socket: Socket): Peer {
  let peer = peers.get(socket);
  if (peer === undefined) {
    peer = { remoteAddress: socket.remoteAddress };
    // A socket already closed has no address yet to remember.
    if (peer.remoteAddress !== undefined) peers.set(socket, peer);
  }
  return peer;
}

class FastRequest implements ReadRequest {
  readonly url: string;
  readonly method = 'GET';
  readonly headers: IncomingHttpHeaders;
  readonly socket: Peer;
  readonly params: { readonly '*': string };

  constructor(req: IncomingMessage, url: string, name: string) {
    this.url = url;
    this.headers = req.headers;
    this.socket = peerOf(req.socket);
    this.params = { '*': name };
  }
}

class FastReply implements ReadReply {
  readonly raw: ServerResponse;
  #status = 200;
  /** Only error replies set headers: answers are written by writeAnswer straight to `raw`. */
  #headers: string[] | null = null;

  constructor(res: ServerResponse) {
    this.raw = res;
  }

  hijack(): this {
    return this;
  }

  code(status: number): this {
    this.#status = status;
    return this;
  }

  header(name: string, value: string): this {
    (this.#headers ??= []).push(name, value);
    return this;
  }

  send(body: string | Buffer = ''): void {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    const headers = this.#headers ?? [];
    headers.push('Content-Length', String(bytes.length));
    this.raw.writeHead(this.#status, headers);
    this.raw.end(bytes);
  }
}

export interface FastRoute {
  /** Path prefix up to the service name, e.g. "/v1/health/service/". */
  readonly prefix: string;
  /** fastify route URL, for the request metric label. */
  readonly label: string;
  readonly handler: ReadHandler;
}

interface BoundRoute extends FastRoute {
  readonly metrics: RouteMetrics;
}

export class FastPath {
  readonly #routes: readonly BoundRoute[];
  /** Set when the server starts closing: fastify then answers (503 on kept-alive sockets). */
  closing = false;

  /** `metricsOf` gives the request metrics of a route label (bound once per route here). */
  constructor(routes: readonly FastRoute[], metricsOf: (label: string) => RouteMetrics) {
    this.#routes = routes.map((r) => ({ ...r, metrics: metricsOf(r.label) }));
  }

  /** Answers the request and returns true, or returns false for fastify to handle it. */
  serve(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'GET' || this.closing) return false;
    const url = req.url ?? '';
    for (const r of this.#routes) {
      if (!url.startsWith(r.prefix)) continue;
      const q = url.indexOf('?', r.prefix.length);
      const name = q < 0 ? url.slice(r.prefix.length) : url.slice(r.prefix.length, q);
      if (!PLAIN_NAME.test(name)) return false;
      const startedAt = performance.now();
      const blocking = q >= 0 && BLOCKING.test(url.slice(q));
      r.handler(new FastRequest(req, url, name), new FastReply(res));
      // A parked blocking query is counted when its answer goes out.
      if (res.headersSent) r.metrics.record(res.statusCode, startedAt, blocking);
      else {
        res.once('finish', () => r.metrics.record(res.statusCode, startedAt, blocking));
        // Parked: consume the (empty) GET body now, so Node does not dump it stream-tick by
        // stream-tick when the answer goes out, inside a 10,000-answer fan-out.
        req.resume();
      }
      return true;
    }
    return false;
  }
}
