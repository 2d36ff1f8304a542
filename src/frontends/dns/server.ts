// Consul DNS front end: UDP on node:dgram and TCP on node:net, both on --dns-addr.
//
// dns2's servers are not used on the hot path: they decode every query with the bit-level codec
// (~0.06 of BIND9 per perf-anchors.md), encode with SRV compression and no OPT, and emit bind
// failures as an 'error' event that crashes the process without a listener. Here a bind failure
// is a rejected promise, and every later socket error is logged, never thrown.
//
// TCP (RFC 7766): 2-byte length framing, pipelined queries (all complete messages in a read are
// answered, replies written in one go), an idle timeout, and a cap on connections.

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type AddressInfo, type Server, type Socket } from 'node:net';
import type { AppContext } from '../../app-context.ts';
import { DiscoveryError, errorMessage } from '../../platform/errors.ts';
import { DnsAnswerer } from './answerer.ts';
import { assemble, rejectReply, type Transport } from './assemble.ts';
import { DnsMetrics } from './metrics.ts';
import { parseQuery } from './query.ts';
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

export function parseListenAddr(addr: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(addr) ?? /^([^:]+):(\d+)$/.exec(addr);
  if (!m) throw new DiscoveryError('DSC_ERR_CONFIG', `DNS address "${addr}" must be host:port (IPv6 as [addr]:port)`);
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new DiscoveryError('DSC_ERR_CONFIG', `DNS port in "${addr}" is out of range`);
  return { host: m[1]!, port };
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

export async function startDnsServer(ctx: AppContext, addr: string): Promise<DnsFrontEnd> {
  const { host, port } = parseListenAddr(addr);
  const answerer = new DnsAnswerer(ctx, isWildcard(host) ? null : host);
  const metrics = new DnsMetrics(ctx.metrics.registry, answerer.cache);
  const log = ctx.log.child({ component: 'dns' });

  /** Reply bytes for one message, or null for silence. Never throws. */
  const handle = (msg: Buffer, sourceIp: string, transport: Transport, send: (b: Buffer) => void): void => {
    let parsed;
    try {
      parsed = parseQuery(msg);
      if (parsed.kind === 'ignore') return metrics.dropped();
      if (parsed.kind === 'reject') return send(rejectReply(parsed.id, parsed.flags, parsed.rcode, parsed.rcode === RCODE.NOTIMP));
      const reply = answerer.answer(parsed.query, msg, sourceIp, transport);
      if (Buffer.isBuffer(reply)) return send(reply);
      const query = parsed.query;
      reply.then(send, (err: unknown) => {
        metrics.error();
        log.error({ err }, 'DNS forward failed');
        send(assemble(query, SERVFAIL, transport, { udpAnswerLimit: 3, aRecordLimit: 0, enableTruncate: false, maxUdpSize: 512, recursionAvailable: true }, 0));
      });
    } catch (err) {
      metrics.error();
      log.error({ err: errorMessage(err) }, 'DNS answer failed');
      if (parsed?.kind === 'query') {
        try {
          send(assemble(parsed.query, SERVFAIL, transport, { udpAnswerLimit: 3, aRecordLimit: 0, enableTruncate: false, maxUdpSize: 512, recursionAvailable: false }, 0));
        } catch {
          /* nothing more can be said to this client */
        }
      }
    }
  };

  const udp = await bindUdp(host, port);
  udp.on('error', (err) => log.warn({ err: errorMessage(err) }, 'DNS UDP socket error'));
  udp.on('message', (msg, rinfo) => {
    handle(msg, rinfo.address, 'udp', (b) => {
      metrics.reply('udp', b);
      udp.send(b, rinfo.port, rinfo.address);
    });
  });
  const udpPort = udp.address().port;

  let tcp: Server;
  try {
    tcp = await listenTcp(host, udpPort).catch((err: unknown) => (port === 0 ? listenTcp(host, 0) : Promise.reject(err)));
  } catch (err) {
    udp.close();
    throw err;
  }
  const connections = new Set<Socket>();
  tcp.maxConnections = TCP_MAX_CONNECTIONS;
  tcp.on('error', (err) => log.warn({ err: errorMessage(err) }, 'DNS TCP server error'));
  tcp.on('connection', (socket) => {
    connections.add(socket);
    serveTcp(socket, (msg, send) => handle(msg, socket.remoteAddress ?? '', 'tcp', (b) => {
      metrics.reply('tcp', b);
      send(b);
    }));
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

function bindUdp(host: string, port: number): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
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
function serveTcp(socket: Socket, handle: (msg: Buffer, send: (b: Buffer) => void) => void): void {
  let pending: Buffer = Buffer.alloc(0);
  socket.setTimeout(TCP_IDLE_MS, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  const write = (b: Buffer) => {
    if (socket.destroyed) return;
    const framed = Buffer.allocUnsafe(b.length + 2);
    framed.writeUInt16BE(b.length, 0);
    b.copy(framed, 2);
    socket.write(framed);
  };
  socket.on('data', (data: Buffer) => {
    pending = pending.length === 0 ? data : Buffer.concat([pending, data]);
    const batch: Buffer[] = [];
    let collecting = true;
    let off = 0;
    while (pending.length - off >= 2) {
      const len = pending.readUInt16BE(off);
      if (pending.length - off - 2 < len) break;
      const msg = pending.subarray(off + 2, off + 2 + len);
      off += 2 + len;
      handle(msg, (b) => {
        if (!collecting) return write(b);
        const framed = Buffer.allocUnsafe(b.length + 2);
        framed.writeUInt16BE(b.length, 0);
        b.copy(framed, 2);
        batch.push(framed);
      });
    }
    collecting = false;
    pending = off === pending.length ? Buffer.alloc(0) : Buffer.from(pending.subarray(off));
    if (batch.length > 0 && !socket.destroyed) socket.write(batch.length === 1 ? batch[0]! : Buffer.concat(batch));
  });
}
