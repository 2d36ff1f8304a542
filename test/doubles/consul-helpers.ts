// Plain HTTP calls to a Consul double, for what the `consul` client cannot show (headers, raw
// bodies, exact statuses). Each call uses its own connection (no keep-alive pool), so sockets
// never outlive the test that opened them.

import { request, type IncomingHttpHeaders } from 'node:http';

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  /** X-Consul-Index as a number (NaN when absent or not a number). */
  readonly index: number;
  json<T = unknown>(): T;
}

export interface CallOptions {
  readonly method?: string;
  readonly body?: string;
  readonly headers?: Record<string, string>;
  readonly signal?: AbortSignal;
}

export function call(base: string, path: string, opts: CallOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method: opts.method ?? 'GET', headers: opts.headers ?? {}, agent: false, ...(opts.signal ? { signal: opts.signal } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const raw = res.headers['x-consul-index'];
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text,
          index: typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN,
          json: <T>() => JSON.parse(text) as T,
        });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Lets the double's wake-up check (run on setImmediate after a write) happen. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}

/** A catalog registration of one service instance with one service check. */
export function instance(service: string, node: string, address: string, opts: { port?: number; tags?: string[]; status?: string; id?: string } = {}): object {
  const id = opts.id ?? `${service}-${node}`;
  return {
    Node: node,
    Address: address,
    Service: { ID: id, Service: service, Port: opts.port ?? 8080, Tags: opts.tags ?? [] },
    Check: { CheckID: `service:${id}`, Name: `${service} health`, ServiceID: id, Status: opts.status ?? 'passing' },
  };
}
