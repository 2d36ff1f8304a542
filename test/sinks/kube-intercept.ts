// A pass-through HTTP proxy in front of the Kubernetes double, for tests that must act at an exact
// point of a client's request sequence: the hook runs before each request is forwarded, and may
// change the cluster first (another writer winning a race), hold the request, or answer it itself.

import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { KubeConfig } from '@kubernetes/client-node';

export interface InterceptedRequest {
  readonly method: string;
  /** Path and query, as sent. */
  readonly url: string;
  readonly body: unknown;
}

/** Undefined: forward. An object: answer with it instead of forwarding. */
export type InterceptHook = (req: InterceptedRequest) => Promise<{ status: number; body: unknown } | undefined> | { status: number; body: unknown } | undefined;

export class KubeIntercept {
  hook: InterceptHook = () => undefined;
  /** Every request seen, in arrival order. */
  readonly seen: InterceptedRequest[] = [];
  inFlight = 0;
  maxInFlight = 0;
  readonly #server: Server;
  readonly #target: URL;
  readonly #base: KubeConfig;

  private constructor(target: KubeConfig) {
    this.#base = target;
    this.#target = new URL(target.getCurrentCluster()!.server);
    this.#server = createServer((req, res) => void this.#handle(req, res));
  }

  static async start(target: KubeConfig): Promise<KubeIntercept> {
    const proxy = new KubeIntercept(target);
    proxy.#server.listen(0, '127.0.0.1');
    await once(proxy.#server, 'listening');
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as { port: number }).port}`;
  }

  /** The target's KubeConfig (same user and token), pointed at this proxy. */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: this.#base.clusters.map((c) => ({ ...c, server: this.url })),
      users: this.#base.users,
      contexts: this.#base.contexts,
      currentContext: this.#base.currentContext,
    });
    return kc;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const raw = Buffer.concat(chunks);
      const seen: InterceptedRequest = { method: req.method ?? 'GET', url: req.url ?? '/', body: raw.length > 0 ? (JSON.parse(raw.toString('utf8')) as unknown) : undefined };
      this.seen.push(seen);
      const answer = await this.hook(seen);
      if (answer) {
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
        return;
      }
      const upstream = httpRequest({ host: this.#target.hostname, port: this.#target.port, method: req.method, path: req.url, headers: { ...req.headers, host: this.#target.host } });
      upstream.on('error', (err) => res.destroy(err));
      upstream.end(raw);
      const [reply] = (await once(upstream, 'response')) as [IncomingMessage];
      res.writeHead(reply.statusCode ?? 502, reply.headers);
      for await (const chunk of reply) res.write(chunk);
      res.end();
    } catch {
      res.destroy();
    } finally {
      this.inFlight--;
    }
  }
}
