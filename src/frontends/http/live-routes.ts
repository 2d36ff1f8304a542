// Live mode: which requests Discovery answers from its own catalog and which go to the upstream
// Consul agent as they came. Discovery answers the catalog and health reads of its own
// datacenter (the reads whose addresses it chooses per caller, and the views around them); the
// upstream answers everything else: KV, sessions, the agent's own endpoints (its registrations,
// checks, self and members are the upstream agent's), status, txn, ACL, events, prepared queries,
// other datacenters, peers, and paths Discovery does not know.

import type { AclScope } from './acl-check.ts';
import type { PassReason } from './passthrough-metrics.ts';

export type LiveRoute =
  | { readonly pass: PassReason }
  /** Answered locally once the caller's token may read these scopes (none: no check needed). */
  | { readonly scopes: readonly AclScope[] };

const NOT_ANSWERED: LiveRoute = { pass: 'not-answered' };
const AGENT_WRITE: LiveRoute = { pass: 'agent-write' };
const OTHER_DC: LiveRoute = { pass: 'other-dc' };
const LOCAL_UNCHECKED: LiveRoute = { scopes: [] };

const SERVICES: readonly AclScope[] = ['services'];
const NODES: readonly AclScope[] = ['nodes'];
/** Views that show nodes together with the services and checks on them. */
const NODES_AND_SERVICES: readonly AclScope[] = ['nodes', 'services'];

const EXACT: ReadonlyMap<string, readonly AclScope[]> = new Map([
  ['/v1/catalog/services', SERVICES],
  ['/v1/catalog/nodes', NODES],
]);

/** Reads about one service, named by the rest of the path. */
const SERVICE_PREFIXES = ['/v1/health/service/', '/v1/catalog/service/', '/v1/health/checks/'];

const NODE_PREFIXES = ['/v1/catalog/node/', '/v1/catalog/node-services/', '/v1/health/node/', '/v1/health/state/'];

/** Query parameters that ask for data Discovery's catalog does not hold (imported peers, sameness groups, merged central config). */
const UPSTREAM_ONLY_PARAMS = ['peer', 'sameness-group', 'merge-central-config'];

function serviceName(rawName: string): string | null {
  if (!rawName.includes('%')) return rawName;
  try {
    return decodeURIComponent(rawName);
  } catch {
    return null;
  }
}

function scopesOf(path: string): readonly AclScope[] | null {
  const exact = EXACT.get(path);
  if (exact) return exact;
  for (const prefix of SERVICE_PREFIXES) {
    if (!path.startsWith(prefix)) continue;
    const name = serviceName(path.slice(prefix.length));
    // An empty or undecodable name is a 400 from the local route, which shows nothing.
    return name === null || name === '' ? [] : [{ service: name }];
  }
  for (const prefix of NODE_PREFIXES) if (path.startsWith(prefix)) return NODES_AND_SERVICES;
  return null;
}

/** Where a request goes in live mode with the kill-switch off. Not /v1: Discovery's own answer (404 or the UI notice). */
export function liveRoute(method: string, url: string, datacenter: string): LiveRoute {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (!path.startsWith('/v1/')) return LOCAL_UNCHECKED;
  if (method !== 'GET') return path.startsWith('/v1/agent/') ? AGENT_WRITE : NOT_ANSWERED;
  const scopes = scopesOf(path);
  if (scopes === null) return NOT_ANSWERED;
  if (q >= 0) {
    const query = new URLSearchParams(url.slice(q + 1));
    const dc = query.get('dc');
    if (dc !== null && dc !== '' && dc !== datacenter) return OTHER_DC;
    for (const p of UPSTREAM_ONLY_PARAMS) if (query.has(p)) return NOT_ANSWERED;
  }
  return scopes.length === 0 ? LOCAL_UNCHECKED : { scopes };
}

/**
 * Discovery's X-Consul-Index values follow wall-clock milliseconds (docs/adr/0003-index-clock.md),
 * far above any raft index an upstream reaches. A caller holding one asks about Discovery's
 * answers, not the upstream's.
 */
export const DISCOVERY_INDEX_FLOOR = 1e12;

/**
 * A read Discovery answers, passed through instead (kill-switch, before the first sync, a token
 * the upstream filters), may carry an index Discovery issued. The upstream would hold such a
 * query for its whole wait even while its data changes (an index above its own: Consul blocks
 * until the timeout), so the index goes: the upstream answers at once with its own, lower index,
 * and the client, as Consul's blocking-query contract asks, resets and follows the upstream.
 */
export function withoutDiscoveryIndex(url: string): string {
  const q = url.indexOf('?');
  if (q < 0 || !url.includes('index=', q)) return url;
  const query = new URLSearchParams(url.slice(q + 1));
  const index = query.get('index');
  if (index === null || !/^\d+$/.test(index) || Number(index) < DISCOVERY_INDEX_FLOOR) return url;
  const kept = url
    .slice(q + 1)
    .split('&')
    .filter((part) => {
      const eq = part.indexOf('=');
      const key = eq < 0 ? part : part.slice(0, eq);
      return key !== 'index';
    });
  return kept.length === 0 ? url.slice(0, q) : `${url.slice(0, q)}?${kept.join('&')}`;
}
