// Public option types of the Consul test double, and the records its state store keeps.

export interface ConsulTokenRules {
  /** service names readable; an entry ending in '*' is a prefix; '*' alone = all. */
  readonly serviceRead?: readonly string[];
  readonly nodeRead?: boolean; // node:read on every node
  readonly keyRead?: readonly string[]; // KV prefixes readable ('' = all)
  readonly keyWrite?: readonly string[]; // KV prefixes writable
  readonly agentWrite?: boolean; // /v1/agent/service/register etc.
}

export interface ConsulDoubleOptions {
  readonly datacenter?: string; // default 'dc1'
  readonly nodeName?: string; // the agent's own node, default 'agent-1', address 127.0.0.1
  /** ACLs on (default policy deny) when given: `managementToken` may do anything, `anonymous` rules apply to requests without a token. */
  readonly acl?: {
    readonly managementToken: string;
    readonly tokens?: Readonly<Record<string, ConsulTokenRules>>;
    readonly anonymous?: ConsulTokenRules;
  };
  /** http_max_conns_per_client: over it a new connection gets 429 and is closed. Default 200. */
  readonly maxConnsPerClient?: number;
  /** Upper bound of `wait` (Consul: 10 min); tests use short waits anyway. */
  readonly maxWaitMs?: number;
}

export type CheckStatus = 'passing' | 'warning' | 'critical';

export interface ServiceAddress {
  readonly Address: string;
  readonly Port: number;
}

export interface NodeRecord {
  id: string;
  name: string;
  address: string;
  taggedAddresses: Record<string, string> | null;
  meta: Record<string, string> | null;
  createIndex: number;
  modifyIndex: number;
  /** By service ID. */
  readonly services: Map<string, ServiceRecord>;
  /** By check ID. */
  readonly checks: Map<string, CheckRecord>;
}

export interface ServiceRecord {
  readonly node: string;
  readonly id: string;
  readonly name: string;
  readonly tags: readonly string[];
  readonly address: string;
  readonly taggedAddresses: Readonly<Record<string, ServiceAddress>> | null;
  readonly meta: Readonly<Record<string, string>> | null;
  readonly port: number;
  readonly weights: { readonly Passing: number; readonly Warning: number };
  readonly enableTagOverride: boolean;
  createIndex: number;
  modifyIndex: number;
}

export interface CheckRecord {
  readonly node: string;
  readonly checkId: string;
  readonly name: string;
  readonly status: CheckStatus;
  readonly notes: string;
  readonly output: string;
  readonly serviceId: string;
  readonly serviceName: string;
  readonly serviceTags: readonly string[];
  readonly type: string;
  readonly interval: string;
  readonly timeout: string;
  createIndex: number;
  modifyIndex: number;
}

export interface KvRecord {
  readonly key: string;
  readonly value: Buffer | null;
  readonly flags: number;
  readonly lockIndex: number;
  createIndex: number;
  modifyIndex: number;
}

/** An error Consul reports over HTTP with this status and plain-text body. */
export class ConsulHttpError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.status = status;
    this.name = 'ConsulHttpError';
  }
}
