// Consul's records for each kind of name (docs/consul-contract.md#dns-records), encoded once into Prepared
// answers. Nothing here runs per query.

import { isIPv4, isIPv6 } from 'node:net';
import type { DnsConfig } from '../../config/config.ts';
import type { RouteResult } from '../../lookup/lookup.ts';
import { aggregateStatus, type ConsulCatalog, type ConsulInstance, type ConsulNode } from '../../world/consul-types.ts';
import { chunk, layoutOf, type Chunk, type Prepared } from './prepared.ts';
import { QUESTION_POINTER, RCODE, TYPE, addressRdata, nameWire, rr, soaRdata, srvRdata, txtRdata } from './wire.ts';

export interface RecordContext {
  readonly dns: DnsConfig;
  readonly datacenter: string;
  /** Our own node name: the NS record target `<nodeName>.node.<dc>.<domain>`. */
  readonly nodeName: string;
  /** Glue address for the NS record (the DNS listener's address), null when listening on a wildcard. */
  readonly serverIp: string | null;
}

const NONE: readonly Chunk[] = [];

function prepared(p: Partial<Omit<Prepared, 'layout'>> & Pick<Prepared, 'rcode'>): Prepared {
  const sections = { answers: p.answers ?? NONE, authority: p.authority ?? NONE, linked: p.linked ?? NONE, extra: p.extra ?? NONE };
  // Every Prepared has the same keys in the same order: assemble() then sees one object shape.
  return {
    rcode: p.rcode,
    authoritative: p.authoritative ?? true,
    kind: p.kind ?? 'other',
    shuffle: p.shuffle ?? false,
    callerScoped: p.callerScoped ?? false,
    ...sections,
    layout: layoutOf(sections),
  };
}

/** SOA as Consul writes it: owner = the domain asked, serial = now (patched per query), 3600 600 86400 min_ttl. */
export function soaChunk(domain: string): Chunk {
  const owner = nameWire(domain);
  const rdata = soaRdata(nameWire(`ns.${domain}`), nameWire(`hostmaster.${domain}`), 0, 3600, 600, 86400, 0);
  const bytes = rr(owner, TYPE.SOA, 0, rdata);
  return chunk(bytes, 0, [], bytes.length - 20);
}

export function nxdomain(domain: string): Prepared {
  return prepared({ rcode: RCODE.NXDOMAIN, authority: [soaChunk(domain)] });
}

export function nodata(domain: string): Prepared {
  return prepared({ rcode: RCODE.NOERROR, authority: [soaChunk(domain)] });
}

export function bare(rcode: number, authoritative: boolean): Prepared {
  return prepared({ rcode, authoritative });
}

function nameservers(ctx: RecordContext, domain: string): { ns: Chunk[]; glue: Chunk[] } {
  const target = nameWire(`${ctx.nodeName}.node.${ctx.datacenter}.${domain}`);
  const ns = [chunk(rr(nameWire(domain), TYPE.NS, ctx.dns.nodeTtl, target))];
  const addr = ctx.serverIp ? addressRdata(ctx.serverIp) : null;
  const glue = addr ? [chunk(rr(target, addr.type, ctx.dns.nodeTtl, addr.rdata))] : [];
  return { ns, glue };
}

/** qtype SOA anywhere in the domain: SOA answer, NS in authority, glue in additional (Consul v1). */
export function soaAnswer(ctx: RecordContext, domain: string): Prepared {
  const { ns, glue } = nameservers(ctx, domain);
  return prepared({ rcode: RCODE.NOERROR, answers: [soaChunk(domain)], authority: ns, extra: glue });
}

/** qtype NS anywhere in the domain: NS answers and glue. */
export function nsAnswer(ctx: RecordContext, domain: string): Prepared {
  const { ns, glue } = nameservers(ctx, domain);
  return prepared({ rcode: RCODE.NOERROR, answers: ns, extra: glue });
}

/** service_ttl: the exact name beats the longest `prefix*` entry; `*` alone is the default. */
export function serviceTtl(map: Readonly<Record<string, number>>, service: string): number {
  let best = -1;
  let ttl = 0;
  for (const [key, value] of Object.entries(map)) {
    const k = key.toLowerCase();
    if (k === service) return value;
    if (k.endsWith('*') && service.startsWith(k.slice(0, -1)) && k.length > best) [best, ttl] = [k.length, value];
  }
  return ttl;
}

function healthy(i: ConsulInstance, onlyPassing: boolean): boolean {
  const s = aggregateStatus(i.checks);
  return s === 'passing' || (s === 'warning' && !onlyPassing);
}

/** The instance's address of one family: the service (or node) address, else its `lan_ipv4`/`lan_ipv6` tagged address. */
function addressOf(i: ConsulInstance, family: 4 | 6): string | null {
  const ok = family === 4 ? isIPv4 : isIPv6;
  const primary = i.service.Address || i.node.Address;
  if (ok(primary)) return primary;
  const key = family === 4 ? 'lan_ipv4' : 'lan_ipv6';
  const tagged = i.service.Address ? i.service.TaggedAddresses?.[key]?.Address : i.node.TaggedAddresses?.[key];
  return tagged && ok(tagged) ? tagged : null;
}

export function hexOf(ip: string): string | null {
  const a = addressRdata(ip);
  return a ? a.rdata.toString('hex') : null;
}

/** Node meta as TXT strings, RFC 1464 escaping as Consul does; `rfc1035-` keys carry the raw value. */
export function metaTxt(meta: Readonly<Record<string, string>> | null): string[] {
  if (!meta) return [];
  return Object.keys(meta)
    .sort()
    .map((key) => {
      const value = meta[key] ?? '';
      if (key.startsWith('rfc1035-')) return value;
      const k = key
        .replace(/`/g, '``')
        .replace(/=/g, '`=')
        .replace(/^ +/, (m) => '` '.repeat(m.length))
        .replace(/ +$/, (m) => '` '.repeat(m.length));
      return `${k}=${value.replace(/`/g, '``')}`;
    });
}

function metaChunks(owner: Buffer, meta: ConsulNode['Meta'], ttl: number, ownerExtra = 0): Chunk[] {
  return metaTxt(meta).map((s) => chunk(rr(owner, TYPE.TXT, ttl, txtRdata([s])), ownerExtra));
}

export interface ServiceQuery {
  readonly domain: string;
  readonly qtype: number;
  /** Lower-cased tag filter, null for none. */
  readonly tag: string | null;
  /** Wire length of the question name (answers point at it; trimming measures names uncompressed). */
  readonly qnameLen: number;
}

export function serviceAnswer(ctx: RecordContext, q: ServiceQuery, r: RouteResult): Prepared {
  const live = r.instances.filter((i) => healthy(i, ctx.dns.onlyPassing) && (q.tag === null || i.service.Tags.some((t) => t.toLowerCase() === q.tag)));
  if (!r.service || live.length === 0) return nxdomain(q.domain);
  const mesh = r.decision.route === 'mesh';
  const ttl = mesh ? ctx.dns.meshTtl : serviceTtl(ctx.dns.serviceTtl, r.key);
  const base = { rcode: RCODE.NOERROR, shuffle: true, callerScoped: true };
  const ownerExtra = q.qnameLen - QUESTION_POINTER.length;
  if (q.qtype === TYPE.SRV) {
    const { answers, linked } = srvRecords(ctx, q, live, ttl, !mesh);
    return answers.length > 0 ? prepared({ ...base, kind: 'srv', answers, linked }) : { ...nodata(q.domain), callerScoped: true };
  }
  const families: Array<4 | 6> = q.qtype === TYPE.A ? [4] : q.qtype === TYPE.AAAA ? [6] : q.qtype === TYPE.ANY ? [4, 6] : [];
  const answers: Chunk[] = [];
  const seen = new Set<string>();
  for (const family of families) {
    for (const i of live) {
      const ip = addressOf(i, family);
      if (ip === null || seen.has(ip)) continue;
      seen.add(ip);
      const a = addressRdata(ip)!;
      answers.push(chunk(rr(QUESTION_POINTER, a.type, ttl, a.rdata), ownerExtra));
    }
  }
  return answers.length > 0 ? prepared({ ...base, kind: 'address', answers }) : { ...nodata(q.domain), callerScoped: true };
}

/**
 * SRV: priority 1, weight from the registration (Weights.Warning for a warning instance), the service port,
 * and the target as Consul names it: `<node>.node.<dc>.<domain>` for a node-address instance,
 * `<hex>.addr.<dc>.<domain>` for an IP service address (the mesh answer's ClusterIP included), else the
 * hostname. The target's A/AAAA (and the node's meta TXT) go to ADDITIONAL, linked to the answer so that
 * trimming drops them together.
 */
function srvRecords(ctx: RecordContext, q: ServiceQuery, live: readonly ConsulInstance[], ttl: number, withMeta: boolean): { answers: Chunk[]; linked: Chunk[] } {
  const answers: Chunk[] = [];
  const linked: Chunk[] = [];
  const linkIndex = new Map<string, number[]>();
  const seen = new Set<string>();
  const ownerExtra = q.qnameLen - QUESTION_POINTER.length;
  const dcDomain = `${ctx.datacenter}.${q.domain}`;
  for (const i of live) {
    const svcAddr = i.service.Address;
    const addr = svcAddr || i.node.Address;
    const dedup = `${i.node.Node}:${addr}:${i.service.Port}`;
    if (seen.has(dedup)) continue;
    seen.add(dedup);
    const warning = aggregateStatus(i.checks) === 'warning';
    const w = warning ? i.service.Weights.Warning : i.service.Weights.Passing;
    const weight = Number.isInteger(w) && w >= 0 ? w : 1;
    const hex = svcAddr ? hexOf(svcAddr) : null;
    const target = !svcAddr ? `${i.node.Node}.node.${dcDomain}` : hex ? `${hex}.addr.${dcDomain}` : svcAddr;
    const glue = addressRdata(addr);
    let targetWire: Buffer;
    try {
      targetWire = nameWire(target);
    } catch {
      continue; // A node or host name that cannot be a DNS name has no SRV answer.
    }
    let links = linkIndex.get(target.toLowerCase());
    if (!links) {
      links = [];
      if (glue) links.push(linked.push(chunk(rr(targetWire, glue.type, ttl, glue.rdata))) - 1);
      if (withMeta) {
        const nodeOwner = nameWire(`${i.node.Node}.node.${dcDomain}`);
        for (const c of metaChunks(nodeOwner, i.node.Meta, ttl)) links.push(linked.push(c) - 1);
      }
      linkIndex.set(target.toLowerCase(), links);
    }
    answers.push(chunk(rr(QUESTION_POINTER, TYPE.SRV, ttl, srvRdata(1, weight, i.service.Port, targetWire)), ownerExtra, links));
  }
  return { answers, linked };
}

const nodeIndexes = new WeakMap<ConsulCatalog, Map<string, ConsulNode>>();

function findNode(catalog: ConsulCatalog, name: string): ConsulNode | undefined {
  let index = nodeIndexes.get(catalog);
  if (!index) {
    index = new Map();
    for (const n of catalog.nodes.values()) index.set(n.Node.toLowerCase(), n);
    nodeIndexes.set(catalog, index);
  }
  return index.get(name);
}

/** `<node>.node`: A/AAAA with the node address, TXT with node meta, ANY both; other types NODATA. */
export function nodeAnswer(ctx: RecordContext, domain: string, qtype: number, qnameLen: number, catalog: ConsulCatalog, node: string): Prepared {
  const n = findNode(catalog, node);
  if (!n) return nxdomain(domain);
  const ttl = ctx.dns.nodeTtl;
  const ownerExtra = qnameLen - QUESTION_POINTER.length;
  const answers: Chunk[] = [];
  const a = addressRdata(n.Address);
  if (a && (qtype === a.type || qtype === TYPE.ANY)) answers.push(chunk(rr(QUESTION_POINTER, a.type, ttl, a.rdata), ownerExtra));
  if (qtype === TYPE.TXT || qtype === TYPE.ANY) answers.push(...metaChunks(QUESTION_POINTER, n.Meta, ttl, ownerExtra));
  return answers.length > 0 ? prepared({ rcode: RCODE.NOERROR, answers }) : nodata(domain);
}

/** `<hex>.addr`: 8 hex digits are an IPv4 address, 32 an IPv6 one; asked with another type, the record goes to ADDITIONAL. */
export function addrAnswer(ctx: RecordContext, domain: string, qtype: number, qnameLen: number, hex: string): Prepared {
  if (!/^(?:[0-9a-f]{8}|[0-9a-f]{32})$/.test(hex)) return nxdomain(domain);
  const type = hex.length === 8 ? TYPE.A : TYPE.AAAA;
  const record = chunk(rr(QUESTION_POINTER, type, ctx.dns.nodeTtl, Buffer.from(hex, 'hex')), qnameLen - QUESTION_POINTER.length);
  if (qtype === type || qtype === TYPE.ANY) return prepared({ rcode: RCODE.NOERROR, answers: [record] });
  return prepared({ rcode: RCODE.NOERROR, extra: [record] });
}
