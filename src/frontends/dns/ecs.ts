// EDNS Client Subnet (RFC 7871): who the query is really for, when a trusted resolver says so.
// A node-local cache or CoreDNS forwards every Pod's query from its own address; only those
// resolvers, listed in config, may name the caller through ECS. From anyone else ECS is ignored,
// or any client could claim to be a meshed Pod.

import { BlockList, isIPv4, isIPv6 } from 'node:net';

export interface Ecs {
  readonly family: number;
  readonly sourcePrefix: number;
  readonly scopePrefix: number;
  /** Address bytes as sent (ceil(sourcePrefix / 8) of them). */
  readonly address: Buffer;
  /** The address, zero-padded, as text. */
  readonly ip: string;
}

/** Validate an ECS address (RFC 7871 §6) and return it as text; null when malformed. */
export function ecsAddress(family: number, sourcePrefix: number, address: Buffer): string | null {
  const width = family === 1 ? 4 : family === 2 ? 16 : 0;
  if (width === 0 || sourcePrefix > width * 8 || address.length !== Math.ceil(sourcePrefix / 8)) return null;
  const full = Buffer.alloc(width);
  address.copy(full);
  if (width === 4) return `${full[0]}.${full[1]}.${full[2]}.${full[3]}`;
  return formatIpv6(full);
}

/** RFC 5952 text form (lower case, longest zero run compressed), as Node prints addresses. */
export function formatIpv6(b: Buffer): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Which source addresses may name the caller through ECS. */
export class TrustedResolvers {
  readonly #list = new BlockList();
  readonly #empty: boolean;

  constructor(entries: readonly string[]) {
    for (const e of entries) {
      const [ip = '', bits] = e.split('/');
      const type = isIPv4(ip) ? 'ipv4' : isIPv6(ip) ? 'ipv6' : null;
      if (!type) throw new Error(`dns.trustedEcsResolvers: "${e}" is not an IP address or CIDR`);
      if (bits === undefined) this.#list.addAddress(ip, type);
      else this.#list.addSubnet(ip, Number(bits), type);
    }
    this.#empty = entries.length === 0;
  }

  trusts(sourceIp: string): boolean {
    if (this.#empty) return false;
    return this.#list.check(sourceIp, isIPv4(sourceIp) ? 'ipv4' : 'ipv6');
  }
}
