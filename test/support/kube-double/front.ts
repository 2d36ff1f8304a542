// The listeners: plain HTTP (for client-node through kubeConfig()) and TLS with a throwaway
// certificate (for kubeconfig files: client-go programs such as kubectl send tokens only over TLS),
// both on 127.0.0.1 and both served by one handler. Every socket is tracked so the double can go
// down abruptly (every connection destroyed, both ports refusing) and come back on the same ports.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Socket } from 'node:net';
import { once } from 'node:events';
import { selfSignedCertificate, type TlsMaterial } from './tls.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export class HttpFront {
  private servers: Server[] = [];
  private readonly sockets = new Set<Socket>();
  private httpPort = 0;
  private httpsPort = 0;
  private readonly handler: Handler;
  private readonly tls: TlsMaterial;

  constructor(handler: Handler) {
    this.handler = handler;
    this.tls = selfSignedCertificate();
  }

  get port(): number {
    return this.httpPort;
  }

  get tlsPort(): number {
    return this.httpsPort;
  }

  private track(server: Server): void {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  /** Listens on 127.0.0.1; port 0 picks a free one, else the ports bound before (after a down()). */
  async listen(): Promise<void> {
    if (this.servers.length > 0) return;
    const plain = createServer({ noDelay: true, keepAliveTimeout: 5000 }, this.handler);
    const secure = createTlsServer({ key: this.tls.key, cert: this.tls.cert, noDelay: true, keepAliveTimeout: 5000 }, this.handler);
    this.track(plain);
    this.track(secure);
    try {
      this.httpPort = await bind(plain, this.httpPort);
      this.httpsPort = await bind(secure, this.httpsPort);
    } catch (err) {
      plain.close();
      secure.close();
      throw err;
    }
    this.servers = [plain, secure];
  }

  /** Stops listening and destroys every open connection (no clean close for anyone). */
  async shutdown(): Promise<void> {
    const servers = this.servers;
    if (servers.length === 0) return;
    this.servers = [];
    const closed = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await Promise.all(closed);
  }
}

async function bind(server: Server, port: number): Promise<number> {
  server.listen(port, '127.0.0.1');
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([err]) => {
      throw new Error(`kube-double: cannot listen on 127.0.0.1:${port}: ${(err as Error).message}`, { cause: err });
    }),
  ]);
  return (server.address() as { port: number }).port;
}
