// Preflight against the upstream Consul agent, with Discovery's own token, through Consul's own
// endpoints: reachability and a leader, catalog and health reads (a read Consul filtered by ACLs
// says so in X-Consul-Results-Filtered-By-ACLs), the control key read and written, and the
// per-client connection limit against what Discovery opens.
//
// The write permission is proven by writing, not by reading the token's policies: a CAS write with
// cas=0 creates a throwaway key under the control key (cas=0 only ever creates, so nothing that
// exists can be overwritten), and the key is deleted again. /v1/acl/token/self would list the
// token's policies and roles, but deciding from their rules whether one grants key write on this
// key means re-implementing Consul's rule evaluation (exact and prefix rules, roles, service and
// node identities, templated policies); the write lets Consul itself decide, and works the same
// with ACLs off.

import { randomBytes } from 'node:crypto';
import type { DiscoveryConfig } from '../config/config.ts';
import { NON_BLOCKING_SOCKETS } from '../frontends/http/upstream-client.ts';
import { errorMessage } from '../platform/errors.ts';
import { blocker, pass, warn, type CheckResult } from './report.ts';

interface Answer {
  readonly status: number;
  readonly text: string;
  readonly filtered: boolean;
}

class ConsulProbe {
  readonly #base: string;
  readonly #token: string | null;

  constructor(url: string, token: string | null) {
    this.#base = url.replace(/\/+$/, '');
    this.#token = token;
  }

  async call(method: 'GET' | 'PUT' | 'DELETE', path: string, body?: string): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (this.#token) headers['x-consul-token'] = this.#token;
    const res = await fetch(`${this.#base}${path}`, { method, headers, ...(body !== undefined ? { body } : {}), signal: AbortSignal.timeout(10_000) });
    return { status: res.status, text: await res.text(), filtered: res.headers.get('x-consul-results-filtered-by-acls') === 'true' };
  }
}

function denial(a: Answer): string {
  return `HTTP ${a.status}: ${a.text.trim().slice(0, 160) || '(no body)'}`;
}

function unreachable(err: unknown): string {
  const cause = (err as { cause?: { code?: string } }).cause?.code;
  return cause ?? errorMessage(err);
}

/** Every Consul check, in order; once the agent cannot be reached, the others are not tried. */
export async function consulChecks(config: DiscoveryConfig, url: string, token: string | null): Promise<CheckResult[]> {
  const consul = new ConsulProbe(url, token);
  const where = `the Consul agent at ${url}`;
  try {
    const leader = await consul.call('GET', '/v1/status/leader');
    if (leader.status !== 200) return [blocker('consul-reachable', `${where} answered /v1/status/leader with ${denial(leader)}`, 'check consul-addr points at the agent\'s HTTP API')];
    const name = JSON.parse(leader.text) as unknown;
    if (typeof name !== 'string' || name === '') return [blocker('consul-reachable', `${where} knows no cluster leader`, 'fix the Consul cluster first (consul operator raft list-peers)')];
  } catch (err) {
    return [blocker('consul-reachable', `cannot reach ${where} (${unreachable(err)})`, 'check consul-addr (scheme, host, port) and that the agent listens on an address this Pod can reach')];
  }
  const out: CheckResult[] = [pass('consul-reachable', `${where} answers and has a leader`)];
  out.push(await readCheck(consul, 'consul-catalog-read', ['/v1/catalog/services', '/v1/catalog/nodes'], 'the catalog (services and nodes)', 'service_prefix "" { policy = "read" } and node_prefix "" { policy = "read" }'));
  out.push(await readCheck(consul, 'consul-health-read', ['/v1/health/state/any'], 'health checks', 'service_prefix "" { policy = "read" } and node_prefix "" { policy = "read" }'));
  out.push(...(await controlKeyChecks(consul, config)));
  out.push(await connectionHeadroom(consul, config));
  return out;
}

async function readCheck(consul: ConsulProbe, id: string, paths: readonly string[], what: string, rule: string): Promise<CheckResult> {
  const fix = `give Discovery's token ${rule}`;
  for (const path of paths) {
    const a = await consul.call('GET', path);
    if (a.status === 403) return blocker(id, `the token may not read ${what}: GET ${path} is ${denial(a)}`, fix);
    if (a.status !== 200) return blocker(id, `GET ${path} answered ${denial(a)}`, 'check the agent\'s logs');
    if (a.filtered) return blocker(id, `the token reads only part of ${what}: Consul left some out of GET ${path} (X-Consul-Results-Filtered-By-ACLs)`, `${fix}: Discovery must see every service to answer as Consul would`);
  }
  return pass(id, `the token reads ${what} in full`);
}

async function controlKeyChecks(consul: ConsulProbe, config: DiscoveryConfig): Promise<CheckResult[]> {
  const key = config.controlKey;
  const rule = `key_prefix "${key}" { policy = "write" }`;
  const read = await consul.call('GET', `/v1/kv/${key}`);
  const out: CheckResult[] = [];
  if (read.status === 200 || read.status === 404) out.push(pass('consul-control-key-read', `the token reads ${key} (${read.status === 200 ? 'it holds the shared mode and pins' : 'not written yet: hybrid, no pins'})`));
  else out.push(blocker('consul-control-key-read', `the token may not read ${key}: ${denial(read)}`, `give Discovery's token ${rule}`));

  // The audit trail is written under <control-key>/audit/, so a key under the control key proves both.
  const probe = `${key.replace(/\/+$/, '')}/preflight/${config.replicaId}-${randomBytes(4).toString('hex')}`;
  const write = await consul.call('PUT', `/v1/kv/${probe}?cas=0`, 'preflight write check, deleted at once');
  if (write.status === 403) {
    out.push(blocker('consul-control-key-write', `the token may not write under ${key}: a create-only write (cas=0) of ${probe} is ${denial(write)}`, `give Discovery's token ${rule} (mode and pins are shared through it; without it no replica can take a kill-switch for the fleet)`));
    return out;
  }
  if (write.status !== 200 || write.text.trim() !== 'true') {
    out.push(blocker('consul-control-key-write', `a create-only write (cas=0) of ${probe} answered ${denial(write)}`, 'check the agent\'s logs and the KV'));
    return out;
  }
  const removed = await consul.call('DELETE', `/v1/kv/${probe}`);
  if (removed.status !== 200) {
    out.push(warn('consul-control-key-write', `the token writes under ${key}, but deleting the probe key ${probe} answered ${denial(removed)}`, `delete it by hand: consul kv delete ${probe}`));
    return out;
  }
  out.push(pass('consul-control-key-write', `the token writes under ${key} (a create-only write of a probe key, deleted again)`));
  return out;
}

async function connectionHeadroom(consul: ConsulProbe, config: DiscoveryConfig): Promise<CheckResult> {
  const id = 'consul-connection-limit';
  const own = config.live.maxUpstreamConnections;
  const blocking = config.live.maxPassthroughBlocking;
  const peak = own + blocking + NON_BLOCKING_SOCKETS;
  const counts = `Discovery opens up to ${own} for its own requests (watches, the control key, ACL probes), ${blocking} for callers' blocking requests and ${NON_BLOCKING_SOCKETS} for other passed-through requests (${peak} in all), from one source address per replica`;
  const howToCheck = `check limits.http_max_conns_per_client in the agent's configuration (default 200) is at least ${own + blocking}, e.g. with a token that has agent:read: curl -H "X-Consul-Token: $TOKEN" <consul-addr>/v1/agent/self | jq .DebugConfig.HTTPMaxConnsPerClient`;
  const self = await consul.call('GET', '/v1/agent/self');
  if (self.status !== 200) return warn(id, `cannot read the agent's connection limit: GET /v1/agent/self is ${denial(self)} (it needs agent:read)`, howToCheck);
  const limit = (JSON.parse(self.text) as { DebugConfig?: { HTTPMaxConnsPerClient?: unknown } }).DebugConfig?.HTTPMaxConnsPerClient;
  if (typeof limit !== 'number') return warn(id, 'the agent does not report HTTPMaxConnsPerClient in /v1/agent/self', howToCheck);
  if (limit === 0) return pass(id, `the agent has no per-client connection limit; ${counts}`);
  const lower = `lower live.max-passthrough-blocking, or raise limits.http_max_conns_per_client on the agent to at least ${own + blocking}`;
  if (limit <= own) return blocker(id, `http_max_conns_per_client is ${limit}: Discovery's own ${own} watches alone reach it and the agent answers 429`, `raise limits.http_max_conns_per_client on the agent above ${own + blocking}, or lower live.max-upstream-connections`);
  if (own + blocking > limit) return blocker(id, `http_max_conns_per_client is ${limit} but ${own} own watches + ${blocking} parked caller requests need ${own + blocking}: once callers park that many, the agent refuses Discovery's own watches too`, lower);
  if (peak > limit) return warn(id, `http_max_conns_per_client is ${limit}: enough for ${own} own watches + ${blocking} parked caller requests, but a burst of other passed-through requests can reach it (${peak} at most) and get 429`, `${lower}, or to ${peak} for no 429 at all`);
  return pass(id, `http_max_conns_per_client is ${limit}; ${counts}`);
}
