// Query pre-parser for the hot path: reads the header, the one question and the OPT record
// (UDP size, ECS) by locating bytes, without building objects per record.
//
// Anything unusual (a compression pointer in the question, a record in the answer or authority
// section, a non-OPT additional such as TSIG) falls back to dns2's Packet.parse, which is slow
// but complete; then only what we need is taken from its result.
//
// Acceptance follows miekg/dns's default MsgAcceptFunc, which Consul's server uses:
// QR set -> no reply; opcode not QUERY/NOTIFY -> NOTIMP; QDCOUNT != 1, ANCOUNT > 1, NSCOUNT > 1,
// ARCOUNT > 2 or an unparsable message -> FORMERR; shorter than a header -> no reply.

import dns2 from 'dns2';
import { HEADER_SIZE, RCODE, TYPE, ipv4Bytes, ipv6Bytes, nameWire } from './wire.ts';
import { ecsAddress, type Ecs } from './ecs.ts';

export interface Query {
  /** The message the question bytes are copied from: the query itself (or a rebuilt one after a fallback parse). */
  readonly buf: Buffer;
  readonly id: number;
  /** Second header word of the query. */
  readonly flags: number;
  /** End of the question name; the question starts at byte 12. */
  readonly nameEnd: number;
  /** End of the question (name, type, class). */
  readonly qEnd: number;
  readonly qtype: number;
  /** The question name in wire form, lower-cased, as a latin1 string: the answer-cache key (with qtype). */
  readonly key: string;
  /** null: the query had no OPT record. */
  readonly edns: { readonly udpSize: number; readonly ecs: Ecs | null } | null;
}

export type Parsed =
  | { readonly kind: 'query'; readonly query: Query }
  | { readonly kind: 'ignore' }
  | { readonly kind: 'reject'; readonly rcode: number; readonly id: number; readonly flags: number };

const FALLBACK: unique symbol = Symbol('fallback');
type Scan = Query | typeof FALLBACK | 'formerr';

export function parseQuery(buf: Buffer): Parsed {
  if (buf.length < HEADER_SIZE) return { kind: 'ignore' };
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  if (flags & 0x8000) return { kind: 'ignore' };
  const opcode = (flags >> 11) & 0xf;
  if (opcode !== 0 && opcode !== 4) return { kind: 'reject', rcode: RCODE.NOTIMP, id, flags };
  const qd = buf.readUInt16BE(4);
  const an = buf.readUInt16BE(6);
  const ns = buf.readUInt16BE(8);
  const ar = buf.readUInt16BE(10);
  if (qd !== 1 || an > 1 || ns > 1 || ar > 2) return { kind: 'reject', rcode: RCODE.FORMERR, id, flags };
  const scan = scanAll(buf, id, flags, an + ns === 0, ar);
  if (scan === 'formerr') return { kind: 'reject', rcode: RCODE.FORMERR, id, flags };
  return { kind: 'query', query: scan };
}

function scanAll(buf: Buffer, id: number, flags: number, simple: boolean, ar: number): Query | 'formerr' {
  try {
    const fast = simple ? scanFast(buf, id, flags, ar) : FALLBACK;
    return fast === FALLBACK ? parseWithDns2(buf, id, flags) : fast;
  } catch {
    return 'formerr';
  }
}

function scanFast(buf: Buffer, id: number, flags: number, ar: number): Scan {
  let off = HEADER_SIZE;
  for (;;) {
    const len = buf[off];
    if (len === undefined) return 'formerr';
    if (len === 0) break;
    if (len & 0xc0) return FALLBACK;
    off += len + 1;
    if (off - HEADER_SIZE > 254) return 'formerr';
  }
  const nameEnd = off + 1;
  const qEnd = nameEnd + 4;
  if (qEnd > buf.length) return 'formerr';
  const qtype = buf.readUInt16BE(nameEnd);
  let edns: Query['edns'] = null;
  off = qEnd;
  for (let i = 0; i < ar; i++) {
    // Only a root-owned OPT is handled here; TSIG, SIG(0) and friends go to the full parser.
    if (buf[off] !== 0) return FALLBACK;
    if (off + 11 > buf.length) return 'formerr';
    const type = buf.readUInt16BE(off + 1);
    const rdlen = buf.readUInt16BE(off + 9);
    const rdEnd = off + 11 + rdlen;
    if (rdEnd > buf.length) return 'formerr';
    if (type !== TYPE.OPT) return FALLBACK;
    if (edns) return 'formerr'; // RFC 6891 §6.1.1: more than one OPT is a FORMERR.
    const ecs = scanOptions(buf, off + 11, rdEnd);
    if (ecs === 'formerr') return 'formerr';
    edns = { udpSize: buf.readUInt16BE(off + 3), ecs };
    off = rdEnd;
  }
  return { buf, id, flags, nameEnd, qEnd, qtype, key: lowerName(buf, nameEnd), edns };
}

/** DNS names compare ASCII case-insensitively; most queries are already lower case, so check before converting. */
function lowerName(buf: Buffer, nameEnd: number): string {
  const name = buf.toString('latin1', HEADER_SIZE, nameEnd);
  for (let i = HEADER_SIZE; i < nameEnd; i++) {
    const c = buf[i]!;
    if (c >= 0x41 && c <= 0x5a) return name.toLowerCase();
  }
  return name;
}

/** Walk EDNS options; return the ECS option (RFC 7871 §6), if any. */
function scanOptions(buf: Buffer, start: number, end: number): Ecs | null | 'formerr' {
  let off = start;
  let ecs: Ecs | null = null;
  while (off < end) {
    if (off + 4 > end) return 'formerr';
    const code = buf.readUInt16BE(off);
    const len = buf.readUInt16BE(off + 2);
    const dataEnd = off + 4 + len;
    if (dataEnd > end) return 'formerr';
    if (code === 8) {
      if (len < 4) return 'formerr';
      const family = buf.readUInt16BE(off + 4);
      const sourcePrefix = buf[off + 6]!;
      const scopePrefix = buf[off + 7]!;
      const address = Buffer.from(buf.subarray(off + 8, dataEnd));
      const parsed = ecsAddress(family, sourcePrefix, address);
      if (!parsed) return 'formerr';
      ecs = { family, sourcePrefix, scopePrefix, address, ip: parsed };
    }
    off = dataEnd;
  }
  return ecs;
}

/** The unusual-query path: dns2's full decoder, then a rebuilt header+question buffer to copy from. */
function parseWithDns2(buf: Buffer, id: number, flags: number): Query | 'formerr' {
  const packet = dns2.Packet.parse(buf);
  const q = packet.questions[0];
  if (packet.errors.length > 0 || !q || packet.questions.length !== 1) return 'formerr';
  const name = nameWire(q.name);
  const rebuilt = Buffer.alloc(HEADER_SIZE + name.length + 4);
  buf.copy(rebuilt, 0, 0, HEADER_SIZE);
  name.copy(rebuilt, HEADER_SIZE);
  rebuilt.writeUInt16BE(q.type, HEADER_SIZE + name.length);
  rebuilt.writeUInt16BE(q.class, HEADER_SIZE + name.length + 2);
  let edns: Query['edns'] = null;
  for (const r of packet.additionals) {
    if (r.type !== TYPE.OPT) continue;
    let ecs: Ecs | null = null;
    for (const o of r.rdata ?? []) {
      if (o.ednsCode !== 8) continue;
      const e = o as dns2.Packet.EcsOption;
      const full = e.ip === undefined ? Buffer.alloc(0) : e.family === 1 ? ipv4Bytes(e.ip) : ipv6Bytes(e.ip);
      const address = Buffer.from(full.subarray(0, Math.ceil(e.sourcePrefixLength / 8)));
      const ip = ecsAddress(e.family, e.sourcePrefixLength, address);
      if (!ip) return 'formerr';
      ecs = { family: e.family, sourcePrefix: e.sourcePrefixLength, scopePrefix: e.scopePrefixLength, address, ip };
    }
    edns = { udpSize: r.class, ecs };
  }
  const nameEnd = HEADER_SIZE + name.length;
  return { buf: rebuilt, id, flags, nameEnd, qEnd: nameEnd + 4, qtype: q.type, key: lowerName(rebuilt, nameEnd), edns };
}
