// Consul DNS front end: UDP on node:dgram and TCP on node:net, both on --dns-addr.
//
// dns2's servers are not used on the hot path: they decode every query with the bit-level codec
// (~0.06 of BIND9 measured, docs/adr/0001-dns2-off-the-hot-path.md), encode with SRV compression and no OPT, and emit bind
// failures as an 'error' event that crashes the process without a listener. Here a bind failure
// is a rejected promise, and every later socket error is logged, never thrown.
//
// TCP (RFC 7766): 2-byte length framing, pipelined queries (all complete messages in a read are
// answered, replies written in one go), an idle timeout, and a cap on connections.

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns';
import { parseHostPort, type HostPort } from '../../platform/host-port.ts';
import { createServer, isIPv4, isIPv6, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Core } from '../../lookup/core.ts';
import { DiscoveryError, errorMessage } from '../../platform/errors.ts';
import { DnsAnswerer } from './answerer.ts';
import { assemble, rejectReply, type Transport } from './assemble.ts';
import { DnsMetrics } from './metrics.ts';
import { parseQuery, type Query } from './query.ts';
import { bare } from './records.ts';
import { RCODE } from './wire.ts';

export interface DnsFrontEnd {
  readonly udpPort: number;
  readonly tcpPort: number;
  address(): { readonly udp: AddressInfo; readonly tcp: AddressInfo };
  close(): Promise<void>;
}

const TCP_IDLE_MS = 10_000;
const TCP_MAX_CONNECTIONS = 1024;
const SERVFAIL = bare(RCODE.SERVFAIL, false);

function parseListenAddr(addr: string): HostPort {
  const hp = parseHostPort(addr);
  if (!hp) throw new DiscoveryError('DSC_ERR_CONFIG', `DNS address "${addr}" must be host:port (IPv6 as [addr]:port)`);
  return hp;
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

export async function startDnsServer(ctx: Core, addr: string): Promise<DnsFrontEnd> {
  const { host, port } = parseListenAddr(addr);
  const answerer = new DnsAnswerer(ctx, isWildcard(host) ? null : host);
  const metrics = new DnsMetrics(ctx.registry, answerer.cache);
  const log = ctx.log.child({ component: 'dns' });

  const failPolicy = { udpAnswerLimit: 3, aRecordLimit: 0, enableTruncate: false, maxUdpSize: 512, recursionAvailable: false };
  /** Reply bytes for one message (a promise when forwarded to a recursor), or null for silence. Never throws. */
  const handle = (msg: Buffer, sourceIp: string, transport: Transport): Buffer | Promise<Buffer> | null => {
    let query: Query | null = null;
    try {
      const parsed = parseQuery(msg);
      if (parsed.kind === 'ignore') {
        metrics.dropped();
        return null;
      }
      if (parsed.kind === 'reject') return rejectReply(parsed.id, parsed.flags, parsed.rcode, parsed.rcode === RCODE.NOTIMP);
      query = parsed.query;
      const q = query;
      const reply = answerer.answer(q, msg, sourceIp, transport);
      if (Buffer.isBuffer(reply)) return reply;
      return reply.catch((err: unknown) => {
        metrics.error();
        log.error({ err: errorMessage(err) }, 'DNS forward failed');
        return assemble(q, SERVFAIL, transport, { ...failPolicy, recursionAvailable: true }, 0);
      });
    } catch (err) {
      // Internal error: answer SERVFAIL (a client that gets nothing retries, then gives up slowly).
      metrics.error();
      log.error({ err: errorMessage(err) }, 'DNS answer failed');
      try {
        return query ? assemble(query, SERVFAIL, transport, failPolicy, 0) : null;
      } catch {
        return null;
      }
    }
  };

  /** handle(), with the time to each answer recorded (a forward: until the recursor answered). */
  const timed = (msg: Buffer, sourceIp: string, transport: Transport): Buffer | Promise<Buffer> | null => {
    const startedAt = performance.now();
    const reply = handle(msg, sourceIp, transport);
    if (reply === null) return null;
    if (Buffer.isBuffer(reply)) {
      metrics.answered(transport, startedAt);
      return reply;
    }
    return reply.then((b) => (metrics.answered(transport, startedAt), b));
  };

  // UDP and TCP on one port, as clients expect (a truncated UDP answer is retried over TCP on the
  // same port). With port 0 a free UDP port may be taken for TCP: pick again, a bounded number of times.
  let udp: UdpSocket | undefined;
  let tcp: Server | undefined;
  for (let attempt = 0; ; attempt++) {
    const u = await bindUdp(host, port);
    try {
      tcp = await listenTcp(host, u.address().port);
      udp = u;
      break;
    } catch (err) {
      u.close();
      if (port !== 0 || attempt >= 20) throw err;
    }
  }
  udp.on('error', (err) => log.warn({ err: errorMessage(err) }, 'DNS UDP socket error'));
  const udpSocket = udp;
  const udpSend = (b: Buffer, port: number, address: string) => {
    metrics.reply('udp', b);
    udpSocket.send(b, port, address);
  };
  udp.on('message', (msg, rinfo) => {
    const reply = timed(msg, rinfo.address, 'udp');
    if (reply === null) return;
    if (Buffer.isBuffer(reply)) return udpSend(reply, rinfo.port, rinfo.address);
    void reply.then((b) => udpSend(b, rinfo.port, rinfo.address));
  });
  const udpPort = udp.address().port;

  const connections = new Set<Socket>();
  tcp.maxConnections = TCP_MAX_CONNECTIONS;
  tcp.on('error', (err) => log.warn({ err: errorMessage(err) }, 'DNS TCP server error'));
  tcp.on('connection', (socket) => {
    connections.add(socket);
    const remote = socket.remoteAddress ?? '';
    serveTcp(socket, (msg) => timed(msg, remote, 'tcp'), (b) => metrics.reply('tcp', b));
    socket.on('close', () => connections.delete(socket));
  });

  log.info({ udp: udp.address(), tcp: tcp.address() }, 'DNS listening');
  let closed: Promise<void> | null = null;
  return {
    udpPort,
    tcpPort: (tcp.address() as AddressInfo).port,
    address: () => ({ udp: udp.address(), tcp: tcp.address() as AddressInfo }),
    close() {
      closed ??= (async () => {
        answerer.close();
        for (const s of connections) s.destroy();
        await Promise.all([new Promise<void>((r) => udp.close(() => r())), new Promise<void>((r) => tcp.close(() => r()))]);
      })();
      return closed;
    },
  };
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

/**
 * dgram resolves the destination of every send(), even an IP literal, through dns.lookup, which
 * answers a literal on the next tick: a closure, a queued tick and a second callback per reply.
 * Replies always go to the address a query came from, an IP literal: answer those at once, so the
 * send happens inside the 'message' handler. Anything else (a bind host name) is resolved as usual.
 */
function literalFirstLookup(hostname: string, options: LookupOneOptions, callback: LookupCallback): void {
  const family = isIPv4(hostname) ? 4 : isIPv6(hostname) ? 6 : 0;
  if (family !== 0) return callback(null, hostname, family);
  dnsLookup(hostname, options, callback);
}

function bindUdp(host: string, port: number): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', lookup: literalFirstLookup });
    const onError = (err: Error) => {
      socket.close();
      reject(new DiscoveryError('DSC_ERR_LISTEN', `cannot listen for DNS on udp ${host}:${port}: ${err.message}`, { cause: err }));
    };
    socket.once('error', onError);
    socket.bind(port, host, () => {
      socket.off('error', onError);
      // Bursts of queries should queue in the kernel rather than be dropped; the OS may cap this.
      try {
        socket.setRecvBufferSize(4 * 1024 * 1024);
        socket.setSendBufferSize(4 * 1024 * 1024);
      } catch {
        /* keep the default sizes */
      }
      resolve(socket);
    });
  });
}

function listenTcp(host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer({ noDelay: true });
    const onError = (err: Error) => {
      server.close();
      reject(new DiscoveryError('DSC_ERR_LISTEN', `cannot listen for DNS on tcp ${host}:${port}: ${err.message}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError);
      resolve(server);
    });
  });
}

/** Length-prefixed framing with pipelining: replies to the messages of one read go out in one write. */
function serveTcp(socket: Socket, handle: (msg: Buffer) => Buffer | Promise<Buffer> | null, sent: (b: Buffer) => void): void {
  let pending: Buffer = Buffer.alloc(0);
  socket.setTimeout(TCP_IDLE_MS, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  const frame = (b: Buffer): Buffer => {
    sent(b);
    const framed = Buffer.allocUnsafe(b.length + 2);
    framed.writeUInt16BE(b.length, 0);
    b.copy(framed, 2);
    return framed;
  };
  socket.on('data', (data: Buffer) => {
    pending = pending.length === 0 ? data : Buffer.concat([pending, data]);
    const batch: Buffer[] = [];
    let off = 0;
    while (pending.length - off >= 2) {
      const len = pending.readUInt16BE(off);
      if (pending.length - off - 2 < len) break;
      const reply = handle(pending.subarray(off + 2, off + 2 + len));
      off += 2 + len;
      if (reply === null) continue;
      if (Buffer.isBuffer(reply)) batch.push(frame(reply));
      // Forwarded queries answer later, possibly out of order (RFC 7766 §7 allows it; IDs match them up).
      else void reply.then((b) => !socket.destroyed && socket.write(frame(b)));
    }
    pending = off === pending.length ? Buffer.alloc(0) : Buffer.from(pending.subarray(off));
    if (batch.length > 0 && !socket.destroyed) socket.write(batch.length === 1 ? batch[0]! : Buffer.concat(batch));
  });
}
