// Per-query work on a cache hit: pick an order (shuffle), apply Consul's answer limits, and copy
// cached record bytes behind the header and the query's own question bytes (so the ID and the
// question's 0x20 case come from the query). No record is encoded here.
//
// Consul's limits (agent/dns.go trimUDPResponse / trimTCPResponse, docs/consul-contract.md#dns-size-limits):
// - UDP when the client's size is 512 (no EDNS): answers cut to min(udp_answer_limit, 8), and the
//   size is then measured with names written out (uncompressed), as Consul does after that cut;
// - then, while more than one answer remains and the message is over the limit - 7, drop the
//   authority section first, then answers from the end; additional records follow their answers;
// - EDNS: the client's size, capped by dns.maxUdpSize (dns2 and Consul have no cap);
// - TCP: 65523 bytes, at most 1024 SRV / 4096 other answers;
// - a_record_limit caps A/AAAA answers on every transport;
// - TC only when enable_truncate is on (Consul trims silently by default), or when not even one
//   answer fits (then the client must retry over TCP).
// Every reply to a query with OPT carries an OPT, truncated or not (RFC 6891 §7).

import type { Chunk, Prepared } from './prepared.ts';
import type { Query } from './query.ts';
import { FLAG, HEADER_SIZE, optSize, writeOpt } from './wire.ts';

export type Transport = 'udp' | 'tcp';

export interface SizePolicy {
  readonly udpAnswerLimit: number;
  readonly aRecordLimit: number;
  readonly enableTruncate: boolean;
  readonly maxUdpSize: number;
  /** RA flag: set only when recursors are configured. */
  readonly recursionAvailable: boolean;
}

const MAX_UDP_ANSWER_LIMIT = 8;
const TCP_MAX_SIZE = 65523;

let order = new Uint32Array(64);
let prefix = new Float64Array(65);
let usedLink = new Uint8Array(64);

function ensureScratch(answers: number, links: number): void {
  if (order.length < answers) {
    order = new Uint32Array(answers * 2);
    prefix = new Float64Array(answers * 2 + 1);
  }
  if (usedLink.length < links) usedLink = new Uint8Array(links * 2);
}

export function replyFlags(query: Query, rcode: number, authoritative: boolean, ra: boolean, tc: boolean): number {
  // miekg's SetReply: QR, the query's opcode, RD and CD copied.
  let f = FLAG.QR | (query.flags & 0x7800) | (query.flags & (FLAG.RD | FLAG.CD)) | (rcode & 0xf);
  if (authoritative) f |= FLAG.AA;
  if (ra) f |= FLAG.RA;
  if (tc) f |= FLAG.TC;
  return f;
}

/**
 * Build the reply bytes for one query from a prepared answer.
 * `ecsScope`: scope prefix to echo in the ECS option (when the query carried one).
 */
export function assemble(query: Query, p: Prepared, transport: Transport, policy: SizePolicy, ecsScope: number): Buffer {
  const n = p.answers.length;
  ensureScratch(n, p.linked.length);
  for (let i = 0; i < n; i++) order[i] = i;
  if (p.shuffle) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
  }
  const edns = query.edns;
  const optLen = edns ? optSize(edns.ecs ? edns.ecs.address.length : null) : 0;

  // The common case, sized from the layout summed when the answer was built: no limit cuts an
  // answer and everything fits the budget, so nothing is trimmed (the general path below would
  // reach the same bytes after walking every record).
  const aLimited = p.kind === 'address' && policy.aRecordLimit > 0 && policy.aRecordLimit < n;
  if (!aLimited) {
    let budget: number;
    let fits: boolean;
    if (transport === 'udp') {
      const advertised = edns ? Math.max(512, edns.udpSize) : 512;
      budget = Math.max(512, Math.min(advertised, policy.maxUdpSize)) - 7;
      fits = !(advertised === 512 && n > Math.min(policy.udpAnswerLimit, MAX_UDP_ANSWER_LIMIT));
    } else {
      budget = TCP_MAX_SIZE;
      fits = n <= (p.kind === 'srv' ? 1024 : 4096);
    }
    const l = p.layout;
    const size = query.qEnd + optLen + l.extra + l.answersAndLinks + l.authority;
    if (fits && size <= budget) return write(query, p, policy, n, true, p.linked.length > 0, p.extra.length > 0, false, size, ecsScope);
  }
  return assembleTrimmed(query, p, transport, policy, ecsScope, optLen);
}

/** Consul's limits applied record by record: answers (and their linked records) are cut and trimmed to fit. */
function assembleTrimmed(query: Query, p: Prepared, transport: Transport, policy: SizePolicy, ecsScope: number, optLen: number): Buffer {
  const n = p.answers.length;
  let k = n;
  if (p.kind === 'address' && policy.aRecordLimit > 0) k = Math.min(k, policy.aRecordLimit);
  const offered = k;
  const edns = query.edns;
  let limit: number;
  let uncompressed = false;
  if (transport === 'udp') {
    const advertised = edns ? Math.max(512, edns.udpSize) : 512;
    limit = Math.max(512, Math.min(advertised, policy.maxUdpSize));
    const cut = Math.min(policy.udpAnswerLimit, MAX_UDP_ANSWER_LIMIT);
    if (advertised === 512 && k > cut) {
      k = Math.max(cut, 0);
      uncompressed = true;
    }
  } else {
    limit = TCP_MAX_SIZE;
    k = Math.min(k, p.kind === 'srv' ? 1024 : 4096);
  }

  // prefix[j]: bytes of the first j answers in `order` plus the linked records they bring (each once).
  // (Plain loops, no closures: this runs for every query that needs trimming.)
  const linked = p.linked;
  const hasLinks = linked.length > 0;
  const units = p.layout.disjointLinks ? p.layout.units : null;
  if (hasLinks && !units) usedLink.fill(0, 0, linked.length);
  prefix[0] = 0;
  for (let j = 0; j < k; j++) {
    const a = p.answers[order[j]!]!;
    if (units) {
      prefix[j + 1] = prefix[j]! + units[order[j]!]! + (uncompressed ? a.ownerExtra : 0);
      continue;
    }
    let size = a.bytes.length + (uncompressed ? a.ownerExtra : 0);
    if (hasLinks) {
      for (const l of a.links) {
        if (usedLink[l]) continue;
        usedLink[l] = 1;
        size += linked[l]!.bytes.length;
      }
    }
    prefix[j + 1] = prefix[j]! + size;
  }
  const extraSize = p.layout.extra;
  const authSize = p.layout.authority;
  const questionEnd = query.qEnd;
  const fixed = questionEnd + optLen + extraSize;
  const budget = transport === 'udp' ? limit - 7 : limit;
  let withAuthority = true;
  if (k > 1 && fixed + prefix[k]! + authSize > budget) withAuthority = false;
  while (k > 1 && fixed + prefix[k]! > budget) k--;

  // Never send more than the limit: with one oversized answer left, drop the optional sections,
  // and if even that does not fit, send no answer with TC so the client retries over TCP.
  const hard = transport === 'udp' ? limit : 65535;
  let withLinks = hasLinks;
  let withExtra = p.extra.length > 0;
  let size = actualSize(p, k, questionEnd + optLen, withAuthority ? authSize : 0, withExtra ? extraSize : 0, withLinks);
  let forcedTc = false;
  if (size > hard) {
    withAuthority = withLinks = withExtra = false;
    size = actualSize(p, k, questionEnd + optLen, 0, 0, false);
    if (size > hard) {
      k = 0;
      forcedTc = true;
      size = questionEnd + optLen;
    }
  }
  const trimmed = k < offered;
  const tc = forcedTc || (transport === 'udp' && policy.enableTruncate && trimmed);
  return write(query, p, policy, k, withAuthority, withLinks, withExtra, tc, size, ecsScope);
}

/** Writes the reply: header, the query's question, the first k answers in `order`, then the chosen sections. */
function write(query: Query, p: Prepared, policy: SizePolicy, k: number, withAuthority: boolean, withLinks: boolean, withExtra: boolean, tc: boolean, size: number, ecsScope: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  out.writeUInt16BE(query.id, 0);
  out.writeUInt16BE(replyFlags(query, p.rcode, p.authoritative, policy.recursionAvailable, tc), 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(k, 6);
  out.writeUInt16BE(withAuthority ? p.authority.length : 0, 8);
  let off = copyBytes(query.buf, HEADER_SIZE, query.qEnd, out, HEADER_SIZE);
  const answers = p.answers;
  for (let j = 0; j < k; j++) off = put(out, off, answers[order[j]!]!);
  if (withAuthority) for (const c of p.authority) off = put(out, off, c);
  let ar = 0;
  if (withLinks) {
    const linked = p.linked;
    const dedup = !p.layout.disjointLinks;
    if (dedup) usedLink.fill(0, 0, linked.length);
    for (let j = 0; j < k; j++) {
      const links = answers[order[j]!]!.links;
      for (let i = 0; i < links.length; i++) {
        const l = links[i]!;
        if (dedup) {
          if (usedLink[l]) continue;
          usedLink[l] = 1;
        }
        off = put(out, off, linked[l]!);
        ar++;
      }
    }
  }
  if (withExtra) {
    for (const c of p.extra) {
      off = put(out, off, c);
      ar++;
    }
  }
  const edns = query.edns;
  if (edns) {
    const e = edns.ecs;
    // Consul echoes the client's advertised size in the reply's OPT.
    off = writeOpt(out, off, Math.max(512, edns.udpSize), e ? { family: e.family, sourcePrefix: e.sourcePrefix, scopePrefix: ecsScope, address: e.address } : null);
    ar++;
  }
  out.writeUInt16BE(ar, 10);
  return out;
}

/** Exact size of a reply with the first k answers (in `order`), and their linked records when `links`. */
function actualSize(p: Prepared, k: number, base: number, authSize: number, extraSize: number, links: boolean): number {
  let s = base + authSize + extraSize;
  if (links && p.layout.disjointLinks) {
    const units = p.layout.units;
    for (let j = 0; j < k; j++) s += units[order[j]!]!;
    return s;
  }
  if (links) usedLink.fill(0, 0, p.linked.length);
  for (let j = 0; j < k; j++) {
    const a = p.answers[order[j]!]!;
    s += a.bytes.length;
    if (!links) continue;
    for (const l of a.links) {
      if (usedLink[l]) continue;
      usedLink[l] = 1;
      s += p.linked[l]!.bytes.length;
    }
  }
  return s;
}

/** Byte copy; a plain loop beats Buffer#copy (which builds a view per call) for the short question here. */
function copyBytes(src: Uint8Array, start: number, end: number, dst: Uint8Array, at: number): number {
  const len = end - start;
  if (len > 32) {
    dst.set(src.subarray(start, end), at);
    return at + len;
  }
  for (let i = 0; i < len; i++) dst[at + i] = src[start + i]!;
  return at + len;
}

/** A whole record (TypedArray#set copies it without building a view); an SOA gets the current time as its serial, as Consul writes it. */
function put(out: Buffer, off: number, c: Chunk): number {
  out.set(c.bytes, off);
  if (c.serialAt >= 0) out.writeUInt32BE(Math.floor(Date.now() / 1000) >>> 0, off + c.serialAt);
  return off + c.bytes.length;
}

/** FORMERR / NOTIMP as miekg writes them for rejected messages: the header only, QR set, no sections. */
export function rejectReply(id: number, flags: number, rcode: number, keepOpcode: boolean): Buffer {
  const out = Buffer.alloc(HEADER_SIZE);
  out.writeUInt16BE(id, 0);
  // SetRcodeFormatError: QR on, AA off, opcode QUERY (restored for NOTIMP), other header bits kept, Z cleared.
  const kept = flags & (FLAG.RD | FLAG.TC | FLAG.CD | FLAG.RA | 0x0020);
  out.writeUInt16BE(FLAG.QR | kept | (keepOpcode ? flags & 0x7800 : 0) | (rcode & 0xf), 2);
  return out;
}
