// One HTTP request and its answer, with Consul's ways of reading a token and writing replies.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ConsulHttpError } from './types.ts';

export type Headers = ReadonlyArray<readonly [string, string]>;

export class Exchange {
  readonly rawPath: string;
  /** The path as Go's URL.Path gives it: percent-decoded. */
  readonly path: string;
  readonly query: URLSearchParams;
  body: Buffer = Buffer.alloc(0);
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  private readonly aclPolicy: 'allow' | 'deny';

  constructor(req: IncomingMessage, res: ServerResponse, aclPolicy: 'allow' | 'deny') {
    this.req = req;
    this.res = res;
    this.aclPolicy = aclPolicy;
    const url = new URL(req.url ?? '/', 'http://consul.invalid');
    this.rawPath = url.pathname;
    this.query = url.searchParams;
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      path = url.pathname;
    }
    this.path = path;
  }

  get method(): string {
    return this.req.method ?? 'GET';
  }

  /** Presence flags (`?stale`, `?recurse`, `?keys`) count whatever their value. */
  has(param: string): boolean {
    return this.query.has(param);
  }

  /** Consul's order: `?token`, then X-Consul-Token, then `Authorization: Bearer <token>`. */
  token(): string {
    const q = this.query.get('token');
    if (q) return q;
    const h = this.req.headers['x-consul-token'];
    if (typeof h === 'string' && h !== '') return h;
    const auth = this.req.headers.authorization;
    if (auth) {
      const parts = auth.split(' ');
      if (parts.length > 1 && parts[0]!.toLowerCase() === 'bearer') return parts.slice(1).join(' ').trim().split(' ')[0]!.trim();
    }
    return '';
  }

  /** The token as the request carried it, for the request log (null when none was sent). */
  tokenForLog(): string | null {
    const t = this.token();
    return t === '' ? null : t;
  }

  get answered(): boolean {
    return this.res.headersSent || this.res.writableEnded || this.res.destroyed;
  }

  /** Every reply of a /v1 handler carries the ACL default policy (agent/http.go wrap). */
  send(status: number, headers: Headers, body?: string | Buffer, wrapped = true): void {
    if (this.answered) return;
    const all: [string, string][] = wrapped ? [['X-Consul-Default-Acl-Policy', this.aclPolicy]] : [];
    for (const [k, v] of headers) all.push([k, v]);
    this.res.writeHead(status, all.flat());
    this.res.end(body);
  }

  /** Error replies: Go writes the text and lets net/http sniff the type. */
  sendText(status: number, text: string, headers: Headers = [], wrapped = true): void {
    const h: [string, string][] = text === '' ? [] : [['Content-Type', 'text/plain; charset=utf-8']];
    this.send(status, [...h, ...headers], text, wrapped);
  }

  sendError(err: unknown): void {
    if (err instanceof ConsulHttpError) this.sendText(err.status, err.message);
    else this.sendText(500, err instanceof Error ? err.message : String(err));
  }
}

/** Reads the body up to `limit` bytes (more is a 413, as Consul's KV answers). */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) throw new ConsulHttpError(413, `Request body too large, max size: ${limit} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}
