// Names outside the Consul domains go to the configured recursors, as Consul does: the query is
// sent as received (same ID), over the transport the client used, to one recursor at a time
// (in order, or in random order), each with `recursorTimeoutMs`. The first answer is relayed.
// null when every recursor failed: the caller answers SERVFAIL.

import { createSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import type { Transport } from './assemble.ts';

export interface RecursorAddress {
  readonly host: string;
  readonly port: number;
}

export function parseRecursor(text: string): RecursorAddress {
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracket) return { host: bracket[1]!, port: Number(bracket[2] ?? 53) };
  if (isIPv6(text)) return { host: text, port: 53 };
  const [host = '', port] = text.split(':');
  return { host, port: Number(port ?? 53) };
}

export class Recursors {
  readonly #list: readonly RecursorAddress[];
  readonly #timeoutMs: number;
  readonly #random: boolean;

  constructor(addrs: readonly string[], timeoutMs: number, strategy: 'sequential' | 'random') {
    this.#list = addrs.map(parseRecursor);
    this.#timeoutMs = timeoutMs;
    this.#random = strategy === 'random';
  }

  get configured(): boolean {
    return this.#list.length > 0;
  }

  async forward(query: Buffer, transport: Transport): Promise<Buffer | null> {
    const order = [...this.#list];
    if (this.#random) order.sort(() => Math.random() - 0.5);
    for (const r of order) {
      const reply = await (transport === 'udp' ? udpExchange(r, query, this.#timeoutMs) : tcpExchange(r, query, this.#timeoutMs)).catch(() => null);
      if (reply) return reply;
    }
    return null;
  }
}

function udpExchange(r: RecursorAddress, query: Buffer, timeoutMs: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const socket = createSocket(isIPv6(r.host) ? 'udp6' : 'udp4');
    const done = (v: Buffer | null) => {
      clearTimeout(timer);
      socket.close();
      resolve(v);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.on('error', () => done(null));
    socket.on('message', (msg) => {
      if (msg.length >= 12 && msg.readUInt16BE(0) === query.readUInt16BE(0)) done(msg);
    });
    socket.send(query, r.port, r.host);
  });
}

function tcpExchange(r: RecursorAddress, query: Buffer, timeoutMs: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const socket = connect({ host: r.host, port: r.port });
    let data = Buffer.alloc(0);
    const done = (v: Buffer | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.on('error', () => done(null));
    socket.on('close', () => done(null));
    socket.on('connect', () => {
      const len = Buffer.allocUnsafe(2);
      len.writeUInt16BE(query.length);
      socket.write(Buffer.concat([len, query]));
    });
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      if (data.length >= 2 && data.length >= 2 + data.readUInt16BE(0)) done(data.subarray(2, 2 + data.readUInt16BE(0)));
    });
  });
}
