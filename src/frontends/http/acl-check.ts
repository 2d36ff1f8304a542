// Live mode reads Consul's catalog with Discovery's own token, so an answer built from it could
// show a caller more than the caller's token may read. Before Discovery answers a read for a
// token, the upstream is asked what that token sees, with the same read the caller would make and
// no filter; the verdict is cached per (token hash, scope).
//
// Why no `?filter=` that matches nothing: Consul applies the ACL filter *after* the bexpr filter
// (agent/consul/health_endpoint.go `Health.ServiceNodes`, likewise `Catalog.ServiceNodes` and
// `Catalog.ListNodes` in catalog_endpoint.go), so results a filter already removed are never
// counted in X-Consul-Results-Filtered-By-Acls. Only an unfiltered read tells whether ACLs hid
// anything. A token Consul does not know is a 403 (ACL not found); an empty token is resolved by
// the agent to its default token, so probing with no token asks exactly about token-less callers.

import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from '../../platform/log.ts';
import type { AclProbeResult, PassthroughMetrics } from './passthrough-metrics.ts';
import { errorCode, WarnLimiter, type UpstreamClient } from './upstream-client.ts';

/** What a local answer would show: one service's instances, the service list, or the nodes. */
export type AclScope = { readonly service: string } | 'services' | 'nodes';

/** Distinct (token, scope) verdicts kept; the oldest goes first. */
export const MAX_VERDICTS = 10_000;
/** A probe the upstream does not answer within this counts as failed. */
export const PROBE_TIMEOUT_MS = 10_000;
/**
 * While probes fail (upstream out of reach), a token allowed at its last check keeps being
 * answered for this long after its verdict expired, so an upstream outage does not turn every
 * read into a 500. A denied token is never answered locally on a stale verdict.
 */
export const STALE_ALLOWED_GRACE_MS = 5 * 60_000;

/** The caller's token as Consul reads it (agent/http.go parseTokenInternal): ?token=, then X-Consul-Token, then Authorization: Bearer. */
export function callerToken(url: string, headers: IncomingHttpHeaders): string {
  const q = url.indexOf('?');
  if (q >= 0 && url.includes('token=', q)) {
    const t = new URLSearchParams(url.slice(q + 1)).get('token');
    if (t) return t;
  }
  const header = headers['x-consul-token'];
  if (typeof header === 'string' && header !== '') return header;
  const auth = headers['authorization'];
  if (typeof auth === 'string' && auth !== '') {
    const parts = auth.split(' ');
    if (parts.length > 1 && parts[0]!.toLowerCase() === 'bearer') return parts.slice(1).join(' ').trim().split(' ')[0]!.trim();
  }
  return '';
}

/** Verdicts are keyed by a hash: the cache never holds a token. */
function tokenKey(token: string): string {
  return token === '' ? '-' : createHash('sha256').update(token).digest('base64url');
}

function scopeKey(scope: AclScope): string {
  return typeof scope === 'string' ? scope : `service:${scope.service.toLowerCase()}`;
}

function probePath(scope: AclScope): string {
  if (scope === 'services') return '/v1/catalog/services?stale';
  if (scope === 'nodes') return '/v1/catalog/nodes?stale';
  return `/v1/health/service/${encodeURIComponent(scope.service)}?stale`;
}

interface Verdict {
  readonly allowed: boolean;
  readonly checkedAt: number;
}

export interface AclCheckOptions {
  readonly client: UpstreamClient;
  readonly ttlMs: number;
  readonly now: () => number;
  readonly metrics: PassthroughMetrics;
  readonly log: Logger;
  readonly onAclPolicy?: (policy: string | string[] | undefined) => void;
  readonly maxVerdicts?: number;
}

export class AclCheck {
  readonly #o: AclCheckOptions;
  readonly #verdicts = new Map<string, Verdict>();
  readonly #probing = new Map<string, Promise<boolean>>();
  readonly #warn: WarnLimiter;

  constructor(o: AclCheckOptions) {
    this.#o = o;
    this.#warn = new WarnLimiter(o.log);
  }

  /** Verdicts held now (bounded by maxVerdicts). */
  get size(): number {
    return this.#verdicts.size;
  }

  /**
   * May `token` read everything in `scopes`? Answers at once from fresh verdicts; otherwise probes
   * the upstream (one probe per key at a time, whoever asks) and resolves when it has answered.
   */
  mayRead(token: string, scopes: readonly AclScope[]): boolean | Promise<boolean> {
    const tk = tokenKey(token);
    const now = this.#o.now();
    let pending: Promise<boolean>[] | null = null;
    for (const scope of scopes) {
      const key = `${tk}\0${scopeKey(scope)}`;
      const v = this.#verdicts.get(key);
      if (v && now - v.checkedAt < this.#o.ttlMs) {
        if (!v.allowed) return false;
        continue;
      }
      (pending ??= []).push(this.#probeOnce(key, token, scope));
    }
    if (pending === null) return true;
    return Promise.all(pending).then((all) => all.every(Boolean));
  }

  #probeOnce(key: string, token: string, scope: AclScope): Promise<boolean> {
    let p = this.#probing.get(key);
    if (!p) {
      p = this.#probe(token, scope).then((result) => this.#settle(key, result));
      this.#probing.set(key, p);
      void p.finally(() => this.#probing.delete(key));
    }
    return p;
  }

  #settle(key: string, result: AclProbeResult): boolean {
    this.#o.metrics.aclChecks.labels(result).inc();
    const now = this.#o.now();
    if (result === 'error') {
      const last = this.#verdicts.get(key);
      return last !== undefined && last.allowed && now - last.checkedAt < this.#o.ttlMs + STALE_ALLOWED_GRACE_MS;
    }
    const allowed = result === 'allowed';
    this.#verdicts.delete(key);
    this.#verdicts.set(key, { allowed, checkedAt: now });
    const max = this.#o.maxVerdicts ?? MAX_VERDICTS;
    while (this.#verdicts.size > max) this.#verdicts.delete(this.#verdicts.keys().next().value!);
    return allowed;
  }

  #probe(token: string, scope: AclScope): Promise<AclProbeResult> {
    const { client } = this.#o;
    const headers = ['Host', client.hostHeader];
    if (token !== '') headers.push('X-Consul-Token', token);
    return new Promise((resolve) => {
      const req = client.request('GET', probePath(scope), headers);
      const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`), { code: 'ETIMEDOUT' })), PROBE_TIMEOUT_MS);
      let answered = false;
      req.on('response', (res) => {
        answered = true;
        this.#o.onAclPolicy?.(res.headers['x-consul-default-acl-policy']);
        const status = res.statusCode ?? 0;
        const filtered = String(res.headers['x-consul-results-filtered-by-acls'] ?? '').toLowerCase() === 'true';
        // The body is not needed; read it so the socket goes back to the pool.
        res.resume();
        res.on('end', () => {
          clearTimeout(timer);
          if (status === 403) resolve('forbidden');
          else if (status === 200) resolve(filtered ? 'filtered' : 'allowed');
          else {
            this.#warn.warn(`status ${status}`, { upstream: client.url, status }, 'ACL probe got an unexpected status from the upstream Consul agent');
            resolve('error');
          }
        });
        res.on('close', () => {
          clearTimeout(timer);
          if (!res.complete) resolve('error');
        });
      });
      req.on('error', (err) => {
        clearTimeout(timer);
        const code = errorCode(err);
        this.#warn.warn(code, { upstream: client.url, code }, 'ACL probe failed: the upstream Consul agent did not answer');
        resolve('error');
      });
      req.on('close', () => {
        if (answered) return;
        clearTimeout(timer);
        resolve('error');
      });
      req.end();
    });
  }
}
