// The TCP side: accepts connections on 127.0.0.1, hands them to the HTTP server, enforces
// http_max_conns_per_client (a connection over the limit gets Consul's raw 429 and is closed),
// counts open connections, and can stop listening (destroying every socket) and listen again on
// the same port.

import { createServer as createHttpServer, type IncomingMessage, type ServerResponse, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { once } from 'node:events';

const TOO_MANY = 'Your IP is issuing too many concurrent connections, please rate limit your calls\n';
const TOO_MANY_RESPONSE =
  'HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\n' +
  `Content-Length: ${Buffer.byteLength(TOO_MANY)}\r\nConnection: close\r\n\r\n${TOO_MANY}`;

export class Listener {
  private readonly http: HttpServer;
  private net: NetServer | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly rejected = new Set<Socket>();
  private readonly perClient = new Map<string, number>();
  private maxOpen = 0;
  port = 0;

  private readonly maxConnsPerClient: number;

  constructor(maxConnsPerClient: number, onRequest: (req: IncomingMessage, res: ServerResponse) => void) {
    this.maxConnsPerClient = maxConnsPerClient;
    // Blocking queries last up to 10 minutes; Go's server has no request or idle timeout.
    this.http = createHttpServer({ requestTimeout: 0 }, onRequest);
    this.http.keepAliveTimeout = 0;
    this.http.on('clientError', (_err, socket) => socket.destroy());
  }

  get open(): number {
    return this.sockets.size;
  }

  get maxOpenConnections(): number {
    return this.maxOpen;
  }

  /** The client-side port of every open connection (which client holds it: match with `ss -tnp`). */
  peerPorts(): number[] {
    return [...this.sockets].map((s) => s.remotePort ?? 0);
  }

  resetMax(): void {
    this.maxOpen = this.sockets.size;
  }

  async listen(port: number): Promise<number> {
    const server = createNetServer((socket) => this.accept(socket));
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    this.net = server;
    this.port = (server.address() as { port: number }).port;
    return this.port;
  }

  private accept(socket: Socket): void {
    const client = socket.remoteAddress ?? '';
    const count = this.perClient.get(client) ?? 0;
    if (count >= this.maxConnsPerClient) {
      this.reject(socket);
      return;
    }
    this.perClient.set(client, count + 1);
    this.sockets.add(socket);
    this.maxOpen = Math.max(this.maxOpen, this.sockets.size);
    socket.once('close', () => {
      this.sockets.delete(socket);
      const n = (this.perClient.get(client) ?? 1) - 1;
      if (n <= 0) this.perClient.delete(client);
      else this.perClient.set(client, n);
    });
    this.http.emit('connection', socket);
  }

  /** Consul writes the 429 as soon as the client speaks (or shortly after), then closes. */
  private reject(socket: Socket): void {
    this.rejected.add(socket);
    socket.on('error', () => socket.destroy());
    socket.once('close', () => this.rejected.delete(socket));
    let done = false;
    const answer = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.end(TOO_MANY_RESPONSE);
    };
    const timer = setTimeout(answer, 50);
    socket.once('data', answer);
  }

  /** Stop accepting and destroy every socket; resolves when the port is released. */
  async stop(): Promise<void> {
    const server = this.net;
    this.net = null;
    for (const s of [...this.sockets, ...this.rejected]) s.destroy();
    if (!server) return;
    const closed = once(server, 'close');
    server.close();
    await closed;
  }

  get listening(): boolean {
    return this.net !== null;
  }
}
