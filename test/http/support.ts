// Shared helpers for the HTTP front-end tests: a listening server over the test core, and a
// raw HTTP client that can pick its source address (that is how tests choose the caller).

import { request, Agent } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { testCore, type TestCore } from '../support/core.ts';
import type { HttpFrontEnd } from '../../src/frontends/http/server.ts';

export const MESHED = '127.0.0.10';
export const UNMESHED = '127.0.0.20';
export const UNKNOWN = '127.0.0.1';

export interface Server {
  core: TestCore;
  front: HttpFrontEnd;
  port: number;
  close(): Promise<void>;
}

/** The test app's own HTTP front end, listening on a free port (the other listeners stay closed). */
export async function startServer(opts: { core?: TestCore } = {}): Promise<Server> {
  const core = opts.core ?? (await testCore());
  const front = core.test.app.http;
  const { port } = await front.listen('127.0.0.1:0');
  return { core, front, port, close: () => core.test.stop() };
}

export interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  rawHeaders: string[];
  body: string;
}

export interface GetOptions {
  from?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

export function call(port: number, path: string, o: GetOptions = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: o.method ?? 'GET', localAddress: o.from ?? UNKNOWN, headers: o.headers, agent: false, signal: o.signal },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let buf = Buffer.concat(chunks);
          if (res.headers['content-encoding'] === 'gzip') buf = gunzipSync(buf);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: buf.toString('utf8') });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (o.body !== undefined) req.write(o.body);
    req.end();
  });
}

export function json<T = unknown>(r: Res): T {
  return JSON.parse(r.body) as T;
}

export function indexOf(r: Res): number {
  return Number(r.headers['x-consul-index']);
}

/** An http.Agent bound to a source address (for the consul npm client). */
export function agentFrom(localAddress: string): Agent {
  return new Agent({ keepAlive: true, localAddress });
}
