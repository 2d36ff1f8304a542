// The few DNS wire-format pieces Discovery writes itself: names, resource records, OPT.
//
// Why not dns2's encoder (Packet.toBuffer): it compresses SRV targets (RFC 2782 forbids it), it
// never writes an OPT record in a response, and its bit-level writer costs ~17x a byte copy.
// Answers are encoded once per world change into per-record Buffers; this writer only has to be
// correct, and it is checked against dns-packet's decoder in test/dns/wire.test.ts.

import { isIPv4, isIPv6 } from 'node:net';

export const TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, AXFR: 252, IXFR: 251, ANY: 255 } as const;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export const CLASS_IN = 1;
export const HEADER_SIZE = 12;
/** Owner names of answers point at the question name, which always starts right after the header. */
export const QUESTION_POINTER: Buffer = Buffer.from([0xc0, 0x0c]);

/** Header flag bits (second 16-bit word). */
export const FLAG = { QR: 0x8000, AA: 0x0400, TC: 0x0200, RD: 0x0100, RA: 0x0080, CD: 0x0010 } as const;

/** A dotted name ("a.b.consul." or "a.b.consul") as uncompressed wire bytes. Throws on labels over 63 or names over 255 bytes. */
export function nameWire(name: string): Buffer {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  const labels = trimmed === '' ? [] : trimmed.split('.');
  const parts: Buffer[] = [];
  let size = 1;
  for (const label of labels) {
    const bytes = Buffer.from(label, 'utf8');
    if (bytes.length === 0 || bytes.length > 63) throw new RangeError(`DNS label "${label}" must be 1-63 bytes`);
    parts.push(Buffer.from([bytes.length]), bytes);
    size += bytes.length + 1;
  }
  if (size > 255) throw new RangeError(`DNS name "${name}" is longer than 255 bytes`);
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts, size);
}

/** One resource record: owner (wire bytes, possibly a pointer), type, class IN, TTL, RDATA. */
export function rr(owner: Buffer, type: number, ttl: number, rdata: Buffer): Buffer {
  const fixed = Buffer.allocUnsafe(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(CLASS_IN, 2);
  fixed.writeUInt32BE(clampTtl(ttl), 4);
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([owner, fixed, rdata]);
}

function clampTtl(ttl: number): number {
  return Number.isFinite(ttl) && ttl > 0 ? Math.min(Math.floor(ttl), 0x7fffffff) : 0;
}

export function ipv4Bytes(ip: string): Buffer {
  return Buffer.from(ip.split('.').map((p) => Number(p)));
}

export function ipv6Bytes(ip: string): Buffer {
  const out = Buffer.alloc(16);
  let text = ip;
  // An embedded dotted quad (::ffff:1.2.3.4) becomes the last two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    const b = ipv4Bytes(dotted[1]);
    text = `${text.slice(0, -dotted[1].length)}${b.readUInt16BE(0).toString(16)}:${b.readUInt16BE(2).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16) & 0xffff, i * 2));
  return out;
}

export function addressRdata(ip: string): { type: number; rdata: Buffer } | null {
  if (isIPv4(ip)) return { type: TYPE.A, rdata: ipv4Bytes(ip) };
  if (isIPv6(ip)) return { type: TYPE.AAAA, rdata: ipv6Bytes(ip) };
  return null;
}

export function srvRdata(priority: number, weight: number, port: number, target: Buffer): Buffer {
  const fixed = Buffer.allocUnsafe(6);
  fixed.writeUInt16BE(priority & 0xffff, 0);
  fixed.writeUInt16BE(weight & 0xffff, 2);
  fixed.writeUInt16BE(port & 0xffff, 4);
  // The target stays uncompressed: RFC 2782 "name compression is not to be used for this field".
  return Buffer.concat([fixed, target]);
}

/** TXT RDATA: each string as <len><bytes>, strings longer than 255 bytes split into several. */
export function txtRdata(strings: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  for (const s of strings) {
    const bytes = Buffer.from(s, 'utf8');
    if (bytes.length === 0) parts.push(Buffer.from([0]));
    for (let i = 0; i < bytes.length; i += 255) {
      const chunk = bytes.subarray(i, i + 255);
      parts.push(Buffer.from([chunk.length]), chunk);
    }
  }
  return Buffer.concat(parts);
}

export function soaRdata(mname: Buffer, rname: Buffer, serial: number, refresh: number, retry: number, expire: number, minimum: number): Buffer {
  const nums = Buffer.allocUnsafe(20);
  nums.writeUInt32BE(serial >>> 0, 0);
  nums.writeUInt32BE(refresh, 4);
  nums.writeUInt32BE(retry, 8);
  nums.writeUInt32BE(expire, 12);
  nums.writeUInt32BE(minimum, 16);
  return Buffer.concat([mname, rname, nums]);
}

/** Size of an OPT record carrying an optional ECS option with `ecsAddrLen` address bytes. */
export function optSize(ecsAddrLen: number | null): number {
  return 11 + (ecsAddrLen === null ? 0 : 8 + ecsAddrLen);
}

/**
 * Write an OPT record at `off` (RFC 6891): root owner, our UDP size, no extended rcode, version 0, DO clear,
 * and, when the query carried one, the ECS option echoed with the given scope (RFC 7871 §7.2.1).
 */
export function writeOpt(
  out: Buffer,
  off: number,
  udpSize: number,
  ecs: { family: number; sourcePrefix: number; scopePrefix: number; address: Buffer } | null,
): number {
  out[off] = 0;
  out.writeUInt16BE(TYPE.OPT, off + 1);
  out.writeUInt16BE(udpSize & 0xffff, off + 3);
  out.writeUInt32BE(0, off + 5);
  if (!ecs) {
    out.writeUInt16BE(0, off + 9);
    return off + 11;
  }
  const len = 4 + ecs.address.length;
  out.writeUInt16BE(4 + len, off + 9);
  out.writeUInt16BE(8, off + 11);
  out.writeUInt16BE(len, off + 13);
  out.writeUInt16BE(ecs.family, off + 15);
  out[off + 17] = ecs.sourcePrefix;
  out[off + 18] = ecs.scopePrefix;
  ecs.address.copy(out, off + 19);
  return off + 19 + ecs.address.length;
}
