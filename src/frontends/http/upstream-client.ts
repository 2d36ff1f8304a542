// Requests to the upstream Consul agent over node:http / node:https with one bounded keep-alive
// Agent. Not fetch: undici cuts a response at 300 s, and a blocking query is held up to 10 min plus
// jitter (docs/consul-contract.md#blocking-queries). There is no response timeout here; only
// connecting is bounded, so an unreachable upstream fails fast instead of hanging.

import { Agent as HttpAgent, request as httpRequest, type ClientRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Logger } from '../../platform/log.ts';

/** A TCP (or TLS) connection to the upstream that takes longer than this counts as unreachable. */
export const CONNECT_TIMEOUT_MS = 5_000;

/**
 * Sockets for callers' non-blocking passthrough (KV writes, agent calls…) beside the blocking ones.
 * Every socket counts against the agent's per-client-IP limit (http_max_conns_per_client, 200 by
 * default), which all of a replica's traffic shares: 64 of Discovery's own + 128 blocking + 8 = 200.
 */
export const NON_BLOCKING_SOCKETS = 8;

/**
 * Sockets for the ACL probes of callers' tokens. They are Discovery's own requests, so the wiring
 * takes them out of the upstream source's share of `live.max-upstream-connections`.
 */
export const ACL_PROBE_SOCKETS = 4;

export class UpstreamClient {
  /** The upstream's URL as configured, for messages (it carries no credentials). */
  readonly url: string;
  /** `host:port`, sent as the Host header. */
  readonly hostHeader: string;
  readonly #secure: boolean;
  readonly #hostname: string;
  readonly #port: number;
  /** A path prefix of the configured URL (usually empty), put before every request path. */
  readonly #basePath: string;
  readonly #agent: HttpAgent;

  /** `maxSockets` open at once at most; of those, at most `maxIdle` are kept open while idle. */
  constructor(url: string, maxSockets: number, maxIdle = maxSockets) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new Error(`upstream Consul URL "${url}" does not parse`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`upstream Consul URL "${url}" must be http: or https:`);
    this.url = url;
    this.#secure = u.protocol === 'https:';
    this.#hostname = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    this.#port = u.port === '' ? (this.#secure ? 443 : 80) : Number(u.port);
    this.hostHeader = u.host;
    this.#basePath = u.pathname.replace(/\/+$/, '');
    const options = { keepAlive: true, maxSockets, maxFreeSockets: Math.max(1, Math.min(maxIdle, maxSockets)), scheduling: 'lifo' as const };
    this.#agent = this.#secure ? new HttpsAgent(options) : new HttpAgent(options);
  }

  /**
   * Starts a request; `headers` is a flat name/value list sent as given (Host included by the
   * caller). Errors, connect timeouts included, arrive as the request's 'error' event, with a
   * `code` such as ECONNREFUSED or ETIMEDOUT.
   */
  request(method: string, pathAndQuery: string, headers: readonly string[]): ClientRequest {
    const options = { agent: this.#agent, hostname: this.#hostname, port: this.#port, method, path: this.#basePath + pathAndQuery, headers, setHost: false };
    const req = this.#secure ? httpsRequest(options) : httpRequest(options);
    req.on('socket', (socket) => {
      if (!socket.connecting) return;
      const timer = setTimeout(() => {
        const err = new Error(`connecting to ${this.url} took over ${CONNECT_TIMEOUT_MS} ms`) as NodeJS.ErrnoException;
        err.code = 'ETIMEDOUT';
        req.destroy(err);
      }, CONNECT_TIMEOUT_MS);
      const clear = (): void => clearTimeout(timer);
      socket.once(this.#secure ? 'secureConnect' : 'connect', clear);
      socket.once('close', clear);
    });
    return req;
  }

  /** Closes every socket, idle or not. */
  destroy(): void {
    this.#agent.destroy();
  }
}

/** The error's code (ECONNREFUSED, ETIMEDOUT, …) or its message when it has none. */
export function errorCode(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (typeof code === 'string' && code !== '') return code;
  return err instanceof Error ? err.message : String(err);
}

/** At most one warning per kind per period: an upstream outage would otherwise log every request. */
export class WarnLimiter {
  readonly #log: Pick<Logger, 'warn'>;
  readonly #everyMs: number;
  readonly #last = new Map<string, number>();

  constructor(log: Pick<Logger, 'warn'>, everyMs = 10_000) {
    this.#log = log;
    this.#everyMs = everyMs;
  }

  warn(kind: string, fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    const last = this.#last.get(kind);
    if (last !== undefined && now - last < this.#everyMs) return;
    this.#last.set(kind, now);
    this.#log.warn(fields, message);
  }
}
