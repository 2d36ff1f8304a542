// Passing a caller's request to the upstream Consul agent as it came (method, path, raw query,
// body, token headers) and its answer back as the upstream sent it (status, end-to-end headers,
// body bytes), streamed both ways. Discovery's own token is never added. Blocking queries are
// capped (429 over the cap, as Consul's per-client connection limit answers); an upstream that
// cannot be reached is a 500 naming it, which Consul clients retry.

import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import type { Logger } from '../../platform/log.ts';
import { endToEndHeaders } from './hop-by-hop.ts';
import { statusClass, type PassReason, type PassthroughMetrics, type StatusClass } from './passthrough-metrics.ts';
import { errorCode, WarnLimiter, type UpstreamClient } from './upstream-client.ts';

/**
 * Consul's answer when a client holds too many connections (hashicorp/go-connlimit, connlimit.go
 * `tooManyConnsMsg`, used by the agent's HTTP server), with its Content-Type and Connection: close.
 */
export const TOO_MANY_CONNECTIONS = 'Your IP is issuing too many concurrent connections, please rate limit your calls\n';

const TEXT = 'text/plain; charset=utf-8';
/** Replaced (Host) or already answered at this hop (Expect: 100-continue) before the request goes on. */
const REQUEST_DROP: ReadonlySet<string> = new Set(['host', 'expect']);

/** A blocking query: `index` present and above 0 (Consul answers at once otherwise). */
export function isBlockingQuery(url: string): boolean {
  const q = url.indexOf('?');
  if (q < 0 || !url.includes('index=', q)) return false;
  const v = new URLSearchParams(url.slice(q + 1)).get('index');
  return v !== null && /^\d+$/.test(v) && /[1-9]/.test(v);
}

/** The path for logs: no query (it may carry ?token=), and nothing after /v1/acl/<verb>/ (legacy endpoints put tokens there). */
export function loggablePath(url: string): string {
  const path = url.split('?', 1)[0] ?? '';
  const acl = /^(\/v1\/acl\/[^/]+\/).+$/.exec(path);
  return acl ? `${acl[1]}<hidden>` : path;
}

interface InFlight {
  readonly upstream: ClientRequest;
  readonly res: ServerResponse;
}

export interface PassthroughOptions {
  readonly client: UpstreamClient;
  readonly maxBlocking: number;
  readonly metrics: PassthroughMetrics;
  readonly log: Logger;
  /** Sees every `X-Consul-Default-Acl-Policy` the upstream sends. */
  readonly onAclPolicy?: (policy: string | string[] | undefined) => void;
}

export class Passthrough {
  readonly #o: PassthroughOptions;
  readonly #inFlight = new Set<InFlight>();
  #blocking = 0;
  #closing = false;
  readonly #warn: WarnLimiter;

  constructor(o: PassthroughOptions) {
    this.#o = o;
    this.#warn = new WarnLimiter(o.log);
  }

  /** Passed-through blocking queries in flight now. */
  get blocking(): number {
    return this.#blocking;
  }

  /** `url`: the path and query sent upstream, the caller's own unless given. */
  forward(req: IncomingMessage, res: ServerResponse, reason: PassReason, url = req.url ?? '/'): void {
    const { client, metrics } = this.#o;
    if (this.#closing) {
      req.resume();
      return sendText(res, 503, 'Discovery is shutting down');
    }
    const blocking = isBlockingQuery(url);
    if (blocking && this.#blocking >= this.#o.maxBlocking) {
      metrics.rejected.inc();
      req.resume();
      res.writeHead(429, ['Content-Type', 'text/plain', 'Content-Length', String(Buffer.byteLength(TOO_MANY_CONNECTIONS)), 'Connection', 'close']);
      res.end(TOO_MANY_CONNECTIONS);
      return;
    }

    const headers = ['Host', client.hostHeader, ...endToEndHeaders(req.rawHeaders, REQUEST_DROP)];
    // The caller's chunked framing ended at this hop; the body goes on chunked again.
    if (req.headers['transfer-encoding'] !== undefined) headers.push('Transfer-Encoding', 'chunked');
    const method = req.method ?? 'GET';
    const upstream = client.request(method, url, headers);
    const entry: InFlight = { upstream, res };
    this.#inFlight.add(entry);
    const gauge = metrics.inflight.labels(blocking ? 'true' : 'false');
    gauge.inc();
    if (blocking) this.#blocking++;

    let counted = false;
    const done = (cls: StatusClass): void => {
      if (counted) return;
      counted = true;
      this.#inFlight.delete(entry);
      gauge.dec();
      if (blocking) this.#blocking--;
      metrics.requests.labels(reason, cls).inc();
    };

    upstream.on('response', (answer) => {
      this.#o.onAclPolicy?.(answer.headers['x-consul-default-acl-policy']);
      if (res.destroyed) {
        answer.destroy();
        return;
      }
      const status = answer.statusCode ?? 502;
      res.writeHead(status, answer.statusMessage, endToEndHeaders(answer.rawHeaders));
      // An upstream that fails mid-body destroys the caller's response too: a cut answer must not look whole.
      pipeline(answer, res, (err) => done(err ? 'none' : statusClass(status)));
    });

    upstream.on('error', (err) => {
      if (counted || res.destroyed) return done('none');
      if (res.headersSent) {
        res.destroy(err);
        return done('none');
      }
      if (this.#closing) {
        sendText(res, 503, 'Discovery is shutting down');
        return done('5xx');
      }
      const code = errorCode(err);
      this.#warn.warn(code, { upstream: client.url, code, method, path: loggablePath(url) }, 'upstream Consul agent did not answer a passed-through request');
      sendText(res, 500, `Discovery could not pass the request to the upstream Consul agent at ${client.url}: ${code}`);
      done('5xx');
    });

    // Caller gone before the answer was written: abort the upstream request (and its blocking wait).
    res.once('close', () => {
      if (res.writableFinished) return;
      upstream.destroy();
      done('none');
    });

    req.pipe(upstream);
  }

  /** Stops passing through; requests in flight are cut (503 if nothing was sent yet) so shutdown never waits on a 10-minute wait. */
  close(): void {
    this.#closing = true;
    for (const { upstream } of [...this.#inFlight]) upstream.destroy(Object.assign(new Error('Discovery is shutting down'), { code: 'ESHUTDOWN' }));
  }
}

export function sendText(res: ServerResponse, status: number, text: string): void {
  const body = Buffer.from(text);
  res.writeHead(status, ['Content-Type', TEXT, 'Content-Length', String(body.length)]);
  res.end(body);
}
