// The one way Discovery's Consul source talks to the upstream agent: GET requests through one
// keep-alive Agent whose socket cap is the hard connection budget. node:http has no response
// timeout of its own (blocking queries wait minutes), so each request carries its own deadline on
// the injected clock. The token travels as X-Consul-Token and appears nowhere else: not in paths,
// errors, logs or metrics.

import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Clock } from '../../platform/clock.ts';

/** Why a request got no usable HTTP answer. `status` carries the HTTP code of a non-2xx answer. */
export type FailureKind = 'unreachable' | 'timeout' | 'status' | 'aborted';

export class UpstreamError extends Error {
  readonly kind: FailureKind;
  readonly status: number | null;

  constructor(kind: FailureKind, message: string, status: number | null = null, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UpstreamError';
    this.kind = kind;
    this.status = status;
  }
}

export interface UpstreamAnswer {
  readonly status: number;
  /** The X-Consul-Index header as sent, null when absent. */
  readonly index: string | null;
  readonly body: string;
}

export interface UpstreamHttpOptions {
  readonly url: string;
  readonly token: string | null;
  readonly maxSockets: number;
  readonly clock: Clock;
}

/** The URL without credentials, query or trailing slash: safe to show in names and logs. */
export function displayUrl(url: string): string {
  const u = new URL(url);
  const path = u.pathname.replace(/\/+$/, '');
  return `${u.protocol}//${u.host}${path}`;
}

export class UpstreamHttp {
  readonly #clock: Clock;
  readonly #token: string | null;
  readonly #agent: http.Agent;
  readonly #request: typeof http.request;
  readonly #host: string;
  readonly #port: number;
  readonly #basePath: string;
  readonly #inFlight = new Set<http.ClientRequest>();
  readonly #seen = new WeakSet<Socket>();
  #open = 0;
  #stopped = false;

  constructor(opts: UpstreamHttpOptions) {
    const u = new URL(opts.url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`upstream Consul URL must be http or https, got ${u.protocol}`);
    const secure = u.protocol === 'https:';
    this.#clock = opts.clock;
    this.#token = opts.token;
    const agentOptions = { keepAlive: true, maxSockets: opts.maxSockets, maxTotalSockets: opts.maxSockets, maxFreeSockets: opts.maxSockets };
    this.#agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.#request = secure ? https.request : http.request;
    this.#host = u.hostname.replace(/^\[(.*)\]$/, '$1');
    this.#port = u.port === '' ? (secure ? 443 : 80) : Number(u.port);
    this.#basePath = u.pathname.replace(/\/+$/, '');
  }

  /** Sockets open to the upstream right now (busy and idle). */
  get openConnections(): number {
    return this.#open;
  }

  /**
   * GET `path?query`. Resolves with any complete HTTP answer whose status is 2xx; rejects with an
   * UpstreamError otherwise (non-2xx: kind `status`, the start of the body in the message). A
   * connection that breaks (a keep-alive socket the server or a proxy closed, a parked query's
   * socket dropped) is tried once more at once: only a second failure says the upstream is down.
   */
  async get(path: string, query: string, timeoutMs: number, signal: AbortSignal): Promise<UpstreamAnswer> {
    try {
      return await this.#attempt(path, query, timeoutMs, signal);
    } catch (err) {
      if (!(err instanceof UpstreamError) || err.kind !== 'unreachable' || signal.aborted || this.#stopped) throw err;
      return this.#attempt(path, query, timeoutMs, signal);
    }
  }

  #attempt(path: string, query: string, timeoutMs: number, signal: AbortSignal): Promise<UpstreamAnswer> {
    return new Promise<UpstreamAnswer>((resolve, reject) => {
      if (this.#stopped || signal.aborted) return reject(new UpstreamError('aborted', 'stopped'));
      const headers: Record<string, string> = { accept: 'application/json' };
      if (this.#token !== null && this.#token !== '') headers['x-consul-token'] = this.#token;
      const req = this.#request({
        agent: this.#agent,
        host: this.#host,
        port: this.#port,
        method: 'GET',
        path: `${this.#basePath}${path}${query === '' ? '' : `?${query}`}`,
        headers,
      });
      this.#inFlight.add(req);
      let settled = false;
      const finish = (err: UpstreamError | null, answer?: UpstreamAnswer): void => {
        if (settled) return;
        settled = true;
        timer.cancel();
        signal.removeEventListener('abort', onAbort);
        this.#inFlight.delete(req);
        if (err) {
          req.destroy();
          reject(err);
        } else resolve(answer!);
      };
      const onAbort = (): void => finish(new UpstreamError('aborted', 'stopped'));
      signal.addEventListener('abort', onAbort, { once: true });
      const timer = this.#clock.setTimer(timeoutMs, () => finish(new UpstreamError('timeout', `no answer within ${timeoutMs} ms`)));
      req.on('socket', (socket) => this.#track(socket));
      req.on('error', (err) => finish(new UpstreamError('unreachable', err.message, null, { cause: err })));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => finish(new UpstreamError('unreachable', `answer cut off: ${err.message}`, null, { cause: err })));
        res.on('aborted', () => finish(new UpstreamError('unreachable', 'answer cut off')));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status < 200 || status > 299) {
            const snippet = body.trim().slice(0, 200);
            finish(new UpstreamError('status', `HTTP ${status}${snippet === '' ? '' : `: ${snippet}`}`, status));
            return;
          }
          const index = res.headers['x-consul-index'];
          finish(null, { status, index: typeof index === 'string' ? index : null, body });
        });
      });
      req.end();
    });
  }

  /** Ends every request in flight and closes every socket; later calls reject at once. */
  close(): void {
    this.#stopped = true;
    for (const req of this.#inFlight) req.destroy();
    this.#inFlight.clear();
    this.#agent.destroy();
  }

  #track(socket: Socket): void {
    if (this.#seen.has(socket)) return;
    this.#seen.add(socket);
    this.#open++;
    socket.once('close', () => this.#open--);
  }
}
