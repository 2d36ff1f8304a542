// The upstream Consul KV as the control state needs it, over the `consul` npm client: read a key,
// check-and-set it, create a key only if absent, list a prefix, and follow a key with a blocking
// watch. The client's traps are handled here once (docs/adr/0010-control-in-consul-kv.md):
// no `timeout` in the client defaults (the watch would inherit it and cut every blocking query
// short), a CAS miss resolves `undefined` (only `=== true` is success), a watch without an `error`
// listener crashes the process, an exception in a `change` listener is lost, and a watch that
// ends on its own (HTTP 400, an answer without X-Consul-Index) is started again.
// Discovery's own token goes out as X-Consul-Token through the client defaults and nowhere else:
// error texts carry the status and Consul's body, never the request.

import Consul from 'consul';
import { DiscoveryError, errorMessage } from '../platform/errors.ts';

export interface ConsulConnection {
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
  /** Discovery's own ACL token; null or '' sends none. */
  readonly token: string | null;
}

/** A key's value and the raft index it was last written at. */
export interface KvValue {
  readonly value: string;
  readonly modifyIndex: number;
}

/** One answer for a key: its value (null: the key does not exist) and the answer's X-Consul-Index. */
export interface KvRead {
  readonly entry: KvValue | null;
  readonly index: number;
}

export interface KeyWatchHandlers {
  /** An answer whose index moved; `reset` when it went backwards (a snapshot restore): start over from it. */
  readonly change: (read: KvRead, reset: boolean) => void;
  /** Any answer at all, changed or not: the KV is reachable. */
  readonly answered: () => void;
  readonly error: (message: string) => void;
}

export interface KeyWatchOptions {
  /** The blocking query's `wait`. */
  readonly waitMs: number;
  /** Longest pause between two failed attempts (the client doubles from 100 ms up to this). */
  readonly retryMaxMs: number;
}

export interface ConsulKvOptions {
  /** Deadline of each non-blocking request (reads, writes, listings). Default 10 s. */
  readonly requestTimeoutMs?: number;
}

/** The parts of the client's kv.get answer this file reads. */
interface RawKvItem {
  readonly Value?: unknown;
  readonly ModifyIndex?: unknown;
}

interface RawResponse {
  readonly statusCode?: number;
  readonly headers?: Record<string, string | string[] | undefined>;
  readonly body?: unknown;
}

type KvMethod = (opts: object) => Promise<unknown>;

/** `host:port` and TLS of an `http(s)://host:port` URL (live mode's consul-addr), with the token. */
export function consulConnection(url: string, token: string | null): ConsulConnection {
  const u = new URL(url);
  const secure = u.protocol === 'https:';
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  return { host, port: u.port ? Number(u.port) : secure ? 443 : 80, secure, token };
}

/** The text of a client error: Consul's status and body when it answered, else the transport error. */
export function describeConsulError(err: unknown): string {
  const res = (err as { response?: RawResponse } | null)?.response;
  if (res && typeof res.statusCode === 'number') {
    const body = Buffer.isBuffer(res.body) ? res.body.toString('utf8') : typeof res.body === 'string' ? res.body : '';
    const text = body.trim().slice(0, 300);
    return `HTTP ${res.statusCode}${text ? `: ${text}` : ''}`;
  }
  return errorMessage(err).replace(/^consul: /, '');
}

function indexOf(res: RawResponse | undefined): number | null {
  const raw = res?.headers?.['x-consul-index'];
  const n = Number(Array.isArray(raw) ? raw[0] : raw);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

function kvValueOf(item: unknown): KvValue | null {
  if (item === undefined || item === null) return null;
  const { Value, ModifyIndex } = item as RawKvItem;
  const modifyIndex = Number(ModifyIndex);
  if (!Number.isSafeInteger(modifyIndex) || modifyIndex < 0) throw new Error(`the KV answer has no valid ModifyIndex (${String(ModifyIndex)})`);
  return { value: typeof Value === 'string' ? Value : '', modifyIndex };
}

export class ConsulKv {
  /** `host:port`, for messages (no token, no scheme credentials). */
  readonly address: string;
  readonly #client: Consul;
  readonly #timeoutMs: number;

  constructor(conn: ConsulConnection, options: ConsulKvOptions = {}) {
    this.address = `${conn.secure ? 'https' : 'http'}://${conn.host.includes(':') ? `[${conn.host}]` : conn.host}:${conn.port}`;
    this.#timeoutMs = options.requestTimeoutMs ?? 10_000;
    // Only the token goes into the defaults: a `timeout` there would also cut every blocking query.
    this.#client = new Consul({ host: conn.host, port: conn.port, secure: conn.secure, ...(conn.token ? { defaults: { token: conn.token } } : {}) });
  }

  /** The key's value, or null when it does not exist. Default consistency (never stale). */
  async get(key: string): Promise<KvValue | null> {
    const item = await this.#call('read', key, () => this.#client.kv.get({ key, timeout: this.#timeoutMs } as never));
    return kvValueOf(item);
  }

  /** Stores `value` only if the key's ModifyIndex is still `cas` (0: only if the key does not exist). */
  async setIfIndex(key: string, value: string, cas: number): Promise<boolean> {
    const result = await this.#call('write', key, () => this.#client.kv.set({ key, value, cas, timeout: this.#timeoutMs } as never));
    // A CAS miss resolves undefined, not false.
    return result === true;
  }

  /** Keys under `prefix`, sorted; none (Consul's 404) is an empty list. */
  async keys(prefix: string): Promise<string[]> {
    try {
      const keys = await this.#client.kv.keys({ key: prefix, timeout: this.#timeoutMs } as never);
      return Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string').sort() : [];
    } catch (err) {
      if ((err as { response?: RawResponse }).response?.statusCode === 404) return [];
      throw new DiscoveryError('DSC_ERR_STATE', `cannot list ${prefix} in Consul KV at ${this.address}: ${describeConsulError(err)}`, { cause: err });
    }
  }

  /**
   * Follows `key` with blocking reads (default consistency) until `signal` aborts. The client's
   * rules apply: a change is an answer whose index moved; an index that went backwards starts over
   * from 0; failures retry with a doubling pause. A watch that ends on its own starts again.
   */
  watchKey(key: string, options: KeyWatchOptions, handlers: KeyWatchHandlers, signal: AbortSignal): void {
    let restart: NodeJS.Timeout | null = null;
    let current: ReturnType<Consul['watch']> | null = null;
    let lastIndex = 0;
    const kv = this.#client.kv;
    // kv.get itself, called on kv; every answer passes through here, so an unchanged answer still says the KV is reachable.
    const method: KvMethod = async (opts) => {
      const answer: unknown = await kv.get(opts as never);
      handlers.answered();
      return answer;
    };
    const start = (): void => {
      if (signal.aborted) return;
      const watch = this.#client.watch({ method, options: { key, wait: `${Math.max(1, Math.round(options.waitMs))}ms` }, backoffMax: options.retryMaxMs });
      current = watch;
      watch.on('error', (err: unknown) => handlers.error(`cannot follow ${key} in Consul KV at ${this.address}: ${describeConsulError(err)}`));
      watch.on('change', (data: unknown, res: RawResponse) => {
        // Whatever goes wrong here must not escape: the client would turn it into an error event
        // after its index already moved, and the change would never come again.
        try {
          const index = indexOf(res) ?? lastIndex;
          const reset = index < lastIndex;
          lastIndex = index;
          handlers.change({ entry: kvValueOf(data), index }, reset);
        } catch (err) {
          handlers.error(`cannot read the answer for ${key} from Consul KV at ${this.address}: ${errorMessage(err)}`);
        }
      });
      watch.on('end', () => {
        if (signal.aborted || current !== watch) return;
        handlers.error(`the watch of ${key} in Consul KV at ${this.address} stopped; starting it again`);
        restart = setTimeout(start, options.retryMaxMs);
      });
    };
    signal.addEventListener(
      'abort',
      () => {
        if (restart) clearTimeout(restart);
        const w = current;
        current = null;
        w?.end();
      },
      { once: true },
    );
    start();
  }

  /** Closes the client's keep-alive connections. */
  close(): void {
    this.#client.destroy();
  }

  async #call<T>(what: 'read' | 'write', key: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new DiscoveryError('DSC_ERR_STATE', `cannot ${what} ${key} in Consul KV at ${this.address}: ${describeConsulError(err)}`, { cause: err });
    }
  }
}
