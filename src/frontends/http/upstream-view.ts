// What the HTTP front end needs from the upstream Consul agent in live mode, and the facts about
// it that Discovery's own answers carry: whether the upstream is in contact (X-Consul-Knownleader,
// X-Consul-Lastcontact) and its default ACL policy (X-Consul-Default-Acl-Policy), as the
// upstream's own answers would (docs/consul-contract.md#http-headers).

/** The upstream Consul agent, as the wiring (src/app.ts) hands it to the HTTP front end. */
export interface UpstreamConsul {
  /** `http(s)://host:port` of the upstream agent's HTTP API. */
  readonly url: string;
  /** Passed-through blocking requests (query `index` > 0) in flight at once, at most; over it: 429. */
  readonly maxBlocking: number;
  /** Never widen what a caller's token may read: check it against the upstream before answering locally. */
  readonly aclCheck: boolean;
  /** How long one token's verdict for one service (or catalog-wide read) is reused. */
  readonly aclCacheTtlMs: number;
  /** The Consul source has completed its first sync: Discovery's catalog can answer reads. */
  synced(): boolean;
  /** Whether the upstream answers, and when it last did (epoch ms on the core's clock). */
  contact(): { readonly reachable: boolean; readonly lastContactAt: number | null };
}

/** Upstream facts stamped on each answer Discovery builds itself. */
export interface AnswerMeta {
  /** `true` unless the upstream is out of contact. */
  readonly knownLeader: string;
  /** Milliseconds since the upstream last answered; `0` while in contact. */
  readonly lastContact: string;
  /** The upstream's `X-Consul-Default-Acl-Policy` as last seen. */
  readonly aclPolicy: string;
}

/** Embedded mode: one agent that is its own leader, ACLs not enforced. */
export const EMBEDDED_META: AnswerMeta = Object.freeze({ knownLeader: 'true', lastContact: '0', aclPolicy: 'allow' });

/**
 * The meta of the answers Discovery builds in live mode. The common case (upstream in contact,
 * policy unchanged) returns the same frozen object every time; only an outage builds a new one per
 * answer, with LastContact growing.
 */
export class UpstreamMetaSource {
  readonly #upstream: UpstreamConsul;
  readonly #now: () => number;
  /** Stands in for the last contact before the upstream has ever answered. */
  readonly #startedAt: number;
  #inContact: AnswerMeta = EMBEDDED_META;

  constructor(upstream: UpstreamConsul, now: () => number) {
    this.#upstream = upstream;
    this.#now = now;
    this.#startedAt = now();
  }

  /** Called with each `X-Consul-Default-Acl-Policy` the upstream sends (passthrough and probes). */
  observePolicy(policy: string | string[] | undefined): void {
    if (typeof policy !== 'string' || policy === '' || policy === this.#inContact.aclPolicy) return;
    this.#inContact = Object.freeze({ knownLeader: 'true', lastContact: '0', aclPolicy: policy });
  }

  current = (): AnswerMeta => {
    const c = this.#upstream.contact();
    if (c.reachable) return this.#inContact;
    const since = Math.max(0, this.#now() - (c.lastContactAt ?? this.#startedAt));
    return { knownLeader: 'false', lastContact: String(Math.floor(since)), aclPolicy: this.#inContact.aclPolicy };
  };
}
