// Consul's DNS name grammar (docs/consul-contract.md#dns-names), for names already lower-cased:
//   [tag.]<service>.service[.<dc>].<domain>    _<service>._<tag|tcp>[.service][.<dc>].<domain>
//   <node>.node[.<dc>].<domain>                <hex>.addr[.<dc>].<domain>
// A locality suffix is `<dc>` or `<dc>.dc`. Anything else inside the domain is NXDOMAIN; names
// outside every configured domain go to the recursors.

import { TYPE } from './wire.ts';

export type ParsedName =
  | { readonly kind: 'service'; readonly domain: string; readonly service: string; readonly tag: string | null }
  | { readonly kind: 'node'; readonly domain: string; readonly node: string }
  | { readonly kind: 'addr'; readonly domain: string; readonly hex: string }
  | { readonly kind: 'apex'; readonly domain: string }
  | { readonly kind: 'nxdomain'; readonly domain: string }
  | { readonly kind: 'outside' };

export interface NameGrammar {
  /** Configured domains, lower case with trailing dot ("consul."), most specific first. */
  readonly domains: readonly string[];
  readonly datacenter: string;
}

/** Labels of a wire-format name (no compression pointers), as latin1 strings. */
export function wireLabels(buf: Buffer, start: number, end: number): string[] {
  const labels: string[] = [];
  let off = start;
  while (off < end) {
    const len = buf[off] ?? 0;
    if (len === 0) break;
    labels.push(buf.toString('latin1', off + 1, off + 1 + len));
    off += len + 1;
  }
  return labels;
}

function domainLabels(domain: string): string[] {
  const d = domain.endsWith('.') ? domain.slice(0, -1) : domain;
  return d === '' ? [] : d.split('.');
}

/** The domain (as configured) whose labels end `labels`, and the labels left of it. */
function splitDomain(labels: readonly string[], domains: readonly string[]): { domain: string; rest: string[] } | null {
  let best: { domain: string; rest: string[]; size: number } | null = null;
  for (const domain of domains) {
    const dl = domainLabels(domain);
    if (dl.length > labels.length) continue;
    const off = labels.length - dl.length;
    if (dl.every((l, i) => labels[off + i] === l) && (!best || dl.length > best.size)) {
      best = { domain, rest: labels.slice(0, off), size: dl.length };
    }
  }
  return best ? { domain: best.domain, rest: best.rest } : null;
}

const QUERY_KINDS = new Set(['service', 'node', 'addr', 'query', 'connect', 'ingress', 'virtual']);

/** Strip `[.<dc>]` or `[.<dc>.dc]` from the right; `null` when a datacenter other than ours is named. */
function stripLocality(rest: string[], datacenter: string): string[] | null {
  const last = rest[rest.length - 1];
  if (last === undefined || QUERY_KINDS.has(last)) return rest;
  if (last === 'dc' && rest.length >= 3) return rest[rest.length - 2] === datacenter ? rest.slice(0, -2) : null;
  // `_web._tcp.consul` has no locality: its last label is the RFC 2782 tag.
  if (last.startsWith('_')) return rest;
  if (rest.length >= 2 && QUERY_KINDS.has(rest[rest.length - 2] ?? '')) return last === datacenter ? rest.slice(0, -1) : null;
  if (rest.length === 3 && rest[0]?.startsWith('_') && rest[1]?.startsWith('_')) return last === datacenter ? rest.slice(0, -1) : null;
  return rest;
}

function isRfc2782(parts: readonly string[]): boolean {
  return parts.length === 2 && parts[0]!.startsWith('_') && parts[1]!.startsWith('_') && parts[0]!.length > 1 && parts[1]!.length > 1;
}

function rfc2782(domain: string, parts: readonly string[]): ParsedName {
  const tag = parts[1]!.slice(1);
  return { kind: 'service', domain, service: parts[0]!.slice(1), tag: tag === 'tcp' ? null : tag };
}

export function parseName(labels: readonly string[], qtype: number, g: NameGrammar): ParsedName {
  const split = splitDomain(labels, g.domains);
  if (!split) return { kind: 'outside' };
  const { domain } = split;
  if (split.rest.length === 0) return { kind: 'apex', domain };
  const rest = stripLocality(split.rest, g.datacenter);
  if (!rest) return { kind: 'nxdomain', domain };
  const kind = rest[rest.length - 1]!;
  const parts = rest.slice(0, -1);
  switch (kind) {
    case 'service':
      if (parts.length === 0) return { kind: 'nxdomain', domain };
      if (isRfc2782(parts)) return rfc2782(domain, parts);
      // All labels left of the service name form ONE tag: a.b.web.service → tag "a.b".
      return { kind: 'service', domain, service: parts[parts.length - 1]!, tag: parts.length > 1 ? parts.slice(0, -1).join('.') : null };
    case 'node':
      return parts.length === 0 ? { kind: 'nxdomain', domain } : { kind: 'node', domain, node: parts.join('.') };
    case 'addr':
      return parts.length === 1 ? { kind: 'addr', domain, hex: parts[0]! } : { kind: 'nxdomain', domain };
    default:
      // Consul issue 3200: `_web._tcp.consul` (no `.service`) is accepted for SRV queries.
      if (qtype === TYPE.SRV && isRfc2782(rest)) return rfc2782(domain, rest);
      return { kind: 'nxdomain', domain };
  }
}
