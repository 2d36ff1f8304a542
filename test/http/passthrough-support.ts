// Helpers for the live-mode HTTP tests: a raw node:http upstream that records what reaches it and
// answers as each test says, an UpstreamConsul whose sync and contact the test flips, and a
// Discovery front end in live mode listening on a free port.

import { createServer, type IncomingMessage, type Server as NodeServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { UpstreamConsul } from '../../src/frontends/http/server.ts';
import type { Clock } from '../../src/platform/clock.ts';
import type { Logger } from '../../src/platform/log.ts';
import { testCore } from '../support/core.ts';
import type { Server } from './support.ts';

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly rawHeaders: string[];
  readonly body: Buffer;
}

export type UpstreamHandler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

/** A plain HTTP server standing in for the upstream Consul agent. */
export class RawUpstream {
  readonly seen: SeenRequest[] = [];
  /** Requests whose connection closed before they were answered. */
  readonly abandoned: string[] = [];
  /** Reads each request's body whole before calling the handler; false: the handler gets the request at once (and an empty body). */
  bufferBodies = true;
  handler: UpstreamHandler = (_req, res) => {
    res.writeHead(200, ['Content-Type', 'application/json', 'X-Consul-Index', '7']);
    res.end('{}');
  };
  #server: NodeServer | null = null;
  url = '';

  async start(): Promise<this> {
    const server = createServer((req, res) => {
      res.once('close', () => {
        if (!res.writableFinished) this.abandoned.push(req.url ?? '');
      });
      if (!this.bufferBodies) {
        this.seen.push({ method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders, body: Buffer.alloc(0) });
        this.handler(req, res, Buffer.alloc(0));
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        this.seen.push({ method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders, body });
        this.handler(req, res, body);
      });
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.#server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    const s = this.#server;
    if (!s) return;
    this.#server = null;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

/** The value of the first header named `name` on a recorded request, or undefined. */
export function seenHeader(r: SeenRequest, name: string): string | undefined {
  for (let i = 0; i < r.rawHeaders.length; i += 2) if (r.rawHeaders[i]!.toLowerCase() === name.toLowerCase()) return r.rawHeaders[i + 1];
  return undefined;
}

/** An UpstreamConsul whose answers the test changes. */
export class TestUpstream implements UpstreamConsul {
  url: string;
  maxBlocking: number;
  aclCheck: boolean;
  aclCacheTtlMs: number;
  isSynced = true;
  reachable = true;
  lastContactAt: number | null = null;

  constructor(url: string, o: { maxBlocking?: number; aclCheck?: boolean; aclCacheTtlMs?: number } = {}) {
    this.url = url;
    this.maxBlocking = o.maxBlocking ?? 128;
    this.aclCheck = o.aclCheck ?? false;
    this.aclCacheTtlMs = o.aclCacheTtlMs ?? 30_000;
  }

  synced(): boolean {
    return this.isSynced;
  }

  contact(): { reachable: boolean; lastContactAt: number | null } {
    return { reachable: this.reachable, lastContactAt: this.lastContactAt };
  }
}

/** Discovery in live mode in front of `upstream`, listening on 127.0.0.1 (a free port). */
export async function startLiveServer(upstream: UpstreamConsul, o: { log?: Logger; clock?: Clock } = {}): Promise<Server> {
  const core = await testCore({ http: { upstream }, ...(o.log ? { log: o.log } : {}), ...(o.clock ? { clock: o.clock } : {}) });
  const front = core.test.app.http;
  const { port } = await front.listen('127.0.0.1:0');
  return { core, front, port, close: () => core.test.stop() };
}

/** The value of the sample of `name` whose labels include every given pair; 0 when there is none. */
export async function metricValue(s: Server, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = s.core.registry.getSingleMetric(name);
  if (!m) return 0;
  const { values } = await m.get();
  let sum = 0;
  for (const v of values) {
    const l = v.labels as Record<string, string | number | undefined>;
    if (Object.entries(labels).every(([k, want]) => String(l[k]) === want)) sum += v.value;
  }
  return sum;
}

/** A catalog registration of one HAProxy instance with its passing service check, as test/support/world-fixtures.ts builds them. */
function haproxy(service: string, node: string, address: string, tags: string[] = []): object {
  const id = `${service}-${node}`;
  return {
    Node: node,
    Address: address,
    Service: { ID: id, Service: service, Port: 9080, Tags: tags },
    Check: { CheckID: `service:${id}`, Name: `Service '${service}' check`, Status: 'passing', ServiceID: id },
  };
}

/** The HAProxy nodes of the standard test world, as catalog registrations for a Consul double. */
export const STANDARD_REGISTRATIONS: readonly object[] = [
  haproxy('reviews', 'haproxy-reviews-1', '10.1.0.1', ['v1', 'primary']),
  haproxy('reviews', 'haproxy-reviews-2', '10.1.0.2', ['v1']),
  haproxy('ratings', 'haproxy-ratings-1', '10.1.1.1'),
  haproxy('details', 'haproxy-details-1', '10.1.2.1'),
];
