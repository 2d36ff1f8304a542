// Helpers for the DNS front-end tests: a server over the test core with a DNS-shaped world,
// a raw UDP/TCP client that picks its source address (that is how tests choose the caller) and
// decodes every reply with dns-packet (an independent decoder), and dig/kdig runners.

import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as packet from 'dns-packet';
import type { DiscoveryConfig, DnsConfig } from '../../src/config/config.ts';
import { DEFAULT_CONFIG } from '../../src/config/defaults.ts';
import { startDnsServer, type DnsFrontEnd } from '../../src/frontends/dns/server.ts';
import { testCore, type TestCore } from '../support/core.ts';
import { catalog, standardWorld, type InstanceSpec } from '../support/world-fixtures.ts';

export const MESHED = '127.0.0.10';
export const UNMESHED = '127.0.0.20';
export const UNKNOWN = '127.0.0.1';

const run = promisify(execFile);

/** The standard world plus the services the DNS vectors need. */
export function dnsWorldSpecs(): InstanceSpec[] {
  const web = [1, 2, 3, 4, 5].map((n): InstanceSpec => ({ service: 'web', node: `n${n}`, address: `10.0.0.${n}`, port: 8080, tags: n <= 2 ? ['v1'] : ['v2'], nodeMeta: n === 1 ? { rack: 'r1' } : {} }));
  const big = Array.from({ length: 20 }, (_, i): InstanceSpec => ({ service: 'big', node: `big-${i}`, address: `10.2.0.${i + 1}`, port: 80 }));
  return [
    ...web,
    { service: 'api', node: 'n1', address: '10.0.0.1', port: 9000, serviceAddress: '10.0.0.21', weights: { Passing: 10, Warning: 1 } },
    { service: 'sick', node: 's1', address: '10.3.0.1', port: 80, status: 'critical' },
    { service: 'sick', node: 's2', address: '10.3.0.2', port: 80, status: 'critical' },
    { service: 'meh', node: 'm1', address: '10.4.0.1', port: 80, status: 'critical' },
    { service: 'meh', node: 'm2', address: '10.4.0.2', port: 80, status: 'warning', weights: { Passing: 5, Warning: 2 } },
    { service: 'v6', node: 'six', address: 'fd00::1', port: 80 },
    ...big,
  ];
}

export function dnsWorld(extra: InstanceSpec[] = dnsWorldSpecs()): ReturnType<typeof standardWorld> {
  const std = standardWorld();
  const specs: InstanceSpec[] = [
    { service: 'reviews', node: 'haproxy-reviews-1', address: '10.1.0.1', port: 9080, tags: ['v1', 'primary'] },
    { service: 'reviews', node: 'haproxy-reviews-2', address: '10.1.0.2', port: 9080, tags: ['v1'] },
    { service: 'ratings', node: 'haproxy-ratings-1', address: '10.1.1.1', port: 9080 },
    { service: 'details', node: 'haproxy-details-1', address: '10.1.2.1', port: 9080 },
    ...extra,
  ];
  return { consul: catalog(specs), kube: std.kube };
}

export interface DnsServer {
  core: TestCore;
  front: DnsFrontEnd;
  port: number;
  close(): Promise<void>;
}

export async function startDns(opts: { dns?: Partial<DnsConfig>; config?: Partial<DiscoveryConfig>; core?: TestCore; addr?: string } = {}): Promise<DnsServer> {
  const core =
    opts.core ??
    (await testCore({ world: dnsWorld(), config: { ...opts.config, dns: { ...DEFAULT_CONFIG.dns, ...opts.dns } } }));
  const front = await startDnsServer(core, opts.addr ?? '127.0.0.1:0');
  return {
    core,
    front,
    port: front.udpPort,
    close: async () => {
      await front.close();
      await core.test.stop();
    },
  };
}

export interface Ask {
  type?: packet.RecordType | 'ANY';
  from?: string;
  tcp?: boolean;
  /** EDNS UDP size; undefined = no OPT. */
  edns?: number;
  ecs?: { ip: string; prefix: number };
  id?: number;
}

export function queryBytes(name: string, ask: Ask = {}): Buffer {
  const additionals: packet.Answer[] = [];
  if (ask.edns !== undefined) {
    const options = ask.ecs ? [{ code: 'CLIENT_SUBNET' as const, family: ask.ecs.ip.includes(':') ? 2 : 1, sourcePrefixLength: ask.ecs.prefix, scopePrefixLength: 0, ip: ask.ecs.ip }] : [];
    additionals.push({ type: 'OPT', name: '.', udpPayloadSize: ask.edns, options } as unknown as packet.Answer);
  }
  return packet.encode({ type: 'query', id: ask.id ?? 4242, flags: packet.RECURSION_DESIRED, questions: [{ type: (ask.type ?? 'A') as packet.RecordType, name, class: 'IN' }], additionals });
}

/** A decoded record, loosely typed: tests look at whatever dns-packet decoded. */
export interface Rec {
  name: string;
  type: string;
  ttl: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data: any;
  udpPayloadSize?: number;
  options?: Array<{ code: number; sourcePrefixLength?: number; scopePrefixLength?: number; ip?: string }>;
}

export interface Msg {
  id: number;
  flags: number;
  flag_aa: boolean;
  flag_tc: boolean;
  flag_ra: boolean;
  flag_rd: boolean;
  rcode?: string;
  questions?: Array<{ name: string; type: string }>;
  answers?: Rec[];
  authorities?: Rec[];
  additionals?: Rec[];
}

export interface Reply {
  raw: Buffer;
  msg: Msg;
  rcode: string;
}

export function decode(raw: Buffer): Reply {
  const msg = packet.decode(raw) as unknown as Msg;
  return { raw, msg, rcode: msg.rcode ?? 'NOERROR' };
}

export async function ask(port: number, name: string, a: Ask = {}): Promise<Reply> {
  const raw = a.tcp ? await tcpExchange(port, [queryBytes(name, a)], a.from).then((r) => r[0]!) : await udpExchange(port, queryBytes(name, a), a.from);
  return decode(raw);
}

/** Send raw bytes over UDP; resolves with the reply, or null after `timeoutMs` of silence. */
export function udpRaw(port: number, bytes: Buffer, from = UNKNOWN, timeoutMs = 1000): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      resolve(null);
    }, timeoutMs);
    s.on('error', (e) => {
      clearTimeout(timer);
      s.close();
      reject(e);
    });
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m);
    });
    s.bind(0, from, () => s.send(bytes, port, '127.0.0.1'));
  });
}

export async function udpExchange(port: number, bytes: Buffer, from?: string): Promise<Buffer> {
  const r = await udpRaw(port, bytes, from, 3000);
  if (!r) throw new Error('no UDP reply');
  return r;
}

/** Several length-prefixed messages on one connection, written at once (pipelining); replies in arrival order. */
export function tcpExchange(port: number, messages: Buffer[], from = UNKNOWN, expect = messages.length): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port, localAddress: from });
    let data = Buffer.alloc(0);
    const replies: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`TCP: ${replies.length} of ${expect} replies`));
    }, 5000);
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('connect', () => {
      sock.write(Buffer.concat(messages.map((m) => Buffer.concat([Buffer.from([m.length >> 8, m.length & 255]), m]))));
    });
    sock.on('data', (d: Buffer) => {
      data = Buffer.concat([data, d]);
      while (data.length >= 2 && data.length >= 2 + data.readUInt16BE(0)) {
        replies.push(data.subarray(2, 2 + data.readUInt16BE(0)));
        data = data.subarray(2 + data.readUInt16BE(0));
      }
      if (replies.length >= expect) {
        clearTimeout(timer);
        sock.destroy();
        resolve(replies);
      }
    });
  });
}

export async function dig(port: number, args: string[]): Promise<string> {
  const { stdout } = await run('/usr/bin/dig', [`@127.0.0.1`, '-p', String(port), '+time=2', '+tries=1', ...args], { timeout: 10_000 });
  return stdout;
}

export async function kdig(port: number, args: string[]): Promise<string> {
  const { stdout } = await run('/usr/bin/kdig', [`@127.0.0.1`, '-p', String(port), '+time=2', '+retry=0', ...args], { timeout: 10_000 });
  return stdout;
}

export function answersOf(r: Reply): Rec[] {
  return r.msg.answers ?? [];
}

export function ips(r: Reply): string[] {
  return answersOf(r)
    .filter((a) => a.type === 'A' || a.type === 'AAAA')
    .map((a) => String(a.data))
    .sort();
}

export function optOf(r: Reply): Rec | undefined {
  return (r.msg.additionals ?? []).find((a) => a.type === 'OPT');
}
