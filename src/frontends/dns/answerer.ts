// One query in, reply bytes out: finds (or builds) the cached answer for the name and type,
// asks Lookups for the caller's decision on service names (which also records the observation),
// and assembles the reply. Transport-free, so UDP, TCP and tests share it.

import type { Core } from '../../lookup/core.ts';
import { AnswerCache, type CacheEntry } from './answer-cache.ts';
import { assemble, type SizePolicy, type Transport } from './assemble.ts';
import { TrustedResolvers } from './ecs.ts';
import { parseName, wireLabels, type NameGrammar } from './names.ts';
import type { Prepared } from './prepared.ts';
import type { Query } from './query.ts';
import { Recursors } from './recursor.ts';
import { addrAnswer, bare, nodata, nodeAnswer, nsAnswer, nxdomain, serviceAnswer, soaAnswer, type RecordContext } from './records.ts';
import { HEADER_SIZE, RCODE, TYPE } from './wire.ts';

function normalizeDomain(d: string): string {
  const lower = d.toLowerCase();
  return lower.endsWith('.') ? lower : `${lower}.`;
}

export class DnsAnswerer {
  readonly cache: AnswerCache;
  readonly #ctx: Core;
  readonly #grammar: NameGrammar;
  readonly #records: RecordContext;
  readonly #policy: SizePolicy;
  readonly #trusted: TrustedResolvers;
  readonly #recursors: Recursors;
  readonly #refused: Prepared = bare(RCODE.REFUSED, false);
  readonly #servfail: Prepared = bare(RCODE.SERVFAIL, false);

  constructor(ctx: Core, serverIp: string | null) {
    const dns = ctx.config.dns;
    this.#ctx = ctx;
    const domains = [dns.domain, ...(dns.altDomain ? [dns.altDomain] : [])].map(normalizeDomain);
    this.#grammar = { domains, datacenter: ctx.config.datacenter.toLowerCase() };
    this.#records = { dns, datacenter: ctx.config.datacenter, nodeName: ctx.config.nodeName, serverIp };
    this.#trusted = new TrustedResolvers(dns.trustedEcsResolvers);
    this.#recursors = new Recursors(dns.recursors, dns.recursorTimeoutMs, dns.recursorStrategy);
    this.#policy = {
      udpAnswerLimit: dns.udpAnswerLimit,
      aRecordLimit: dns.aRecordLimit,
      enableTruncate: dns.enableTruncate,
      maxUdpSize: dns.maxUdpSize,
      recursionAvailable: this.#recursors.configured,
    };
    this.cache = new AnswerCache(ctx.bus);
  }

  /** `raw` is the message as received (forwarded verbatim to recursors). */
  answer(q: Query, raw: Buffer, sourceIp: string, transport: Transport): Buffer | Promise<Buffer> {
    const entry = this.cache.get(q.qtype, q.key) ?? this.cache.add(q.qtype, q.key, this.#entry(q));
    if (entry.mode === 'service' && entry.name.kind === 'service') {
      const ecs = q.edns?.ecs;
      const viaEcs = ecs !== undefined && ecs !== null && this.#trusted.trusts(sourceIp);
      const r = this.#ctx.lookups.route(viaEcs ? ecs.ip : sourceIp, entry.name.service, 'dns');
      // Two plain property reads rather than entry[slot]: a computed key that alternates is a slow keyed load.
      const mesh = r.decision.route === 'mesh';
      let v = mesh ? entry.mesh : entry.consul;
      if (!v || v.version !== r.contentVersion) {
        const prepared = serviceAnswer(this.#records, { domain: entry.name.domain, qtype: q.qtype, tag: entry.name.tag, qnameLen: entry.qnameLen }, r);
        v = { version: r.contentVersion, prepared };
        if (mesh) entry.mesh = v;
        else entry.consul = v;
        this.cache.misses++;
      }
      // An answer chosen for an ECS-named caller is scoped to that address only, so ECS-aware caches key it by client.
      const scope = viaEcs && v.prepared.callerScoped ? (ecs.family === 1 ? 32 : 128) : 0;
      return assemble(q, v.prepared, transport, this.#policy, scope);
    }
    if (entry.mode === 'recurse') {
      if (!this.#recursors.configured) return assemble(q, this.#refused, transport, this.#policy, 0);
      return this.#recursors.forward(raw, transport).then((reply) => reply ?? assemble(q, this.#servfail, transport, { ...this.#policy, recursionAvailable: true }, 0));
    }
    const catalog = this.#ctx.world.current.consul;
    let fixed = entry.fixed;
    if (!fixed || (fixed.catalog !== null && fixed.catalog !== catalog)) {
      fixed = entry.fixed = { catalog: entry.name.kind === 'node' ? catalog : null, prepared: this.#fixed(entry, q) };
      this.cache.misses++;
    }
    return assemble(q, fixed.prepared, transport, this.#policy, 0);
  }

  close(): void {
    this.cache.close();
  }

  #entry(q: Query): CacheEntry {
    const labels = wireLabels(q.buf, HEADER_SIZE, q.nameEnd).map((l) => l.toLowerCase());
    const name = parseName(labels, q.qtype, this.#grammar);
    const inDomainSpecial = q.qtype === TYPE.SOA || q.qtype === TYPE.NS || q.qtype === TYPE.AXFR || q.qtype === TYPE.IXFR;
    const mode = name.kind === 'outside' ? 'recurse' : name.kind === 'service' && !inDomainSpecial ? 'service' : 'static';
    return { name, qtype: q.qtype, qnameLen: q.nameEnd - HEADER_SIZE, mode, fixed: null, consul: null, mesh: null };
  }

  /** Caller-independent answers: SOA/NS anywhere in the domain, nodes, .addr, the apex, bad names. */
  #fixed(e: CacheEntry, q: Query): Prepared {
    const n = e.name;
    if (n.kind === 'outside') return this.#refused;
    if (q.qtype === TYPE.AXFR || q.qtype === TYPE.IXFR) return bare(RCODE.NOTIMP, true);
    if (q.qtype === TYPE.SOA) return soaAnswer(this.#records, n.domain);
    if (q.qtype === TYPE.NS) return nsAnswer(this.#records, n.domain);
    switch (n.kind) {
      case 'node':
        return nodeAnswer(this.#records, n.domain, q.qtype, e.qnameLen, this.#ctx.world.current.consul, n.node);
      case 'addr':
        return addrAnswer(this.#records, n.domain, q.qtype, e.qnameLen, n.hex);
      case 'apex':
        return nodata(n.domain);
      default:
        return nxdomain(n.domain);
    }
  }
}
