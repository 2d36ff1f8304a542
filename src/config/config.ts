// The validated, frozen configuration every part receives. Only src/config reads files and env.

/** When is a Consul service's Kubernetes target meshed: any ready endpoint carries the sidecar, or all do. */
export type MeshRule = 'any' | 'all';

export interface DnsConfig {
  /** Domain answered, lower case with trailing dot, e.g. "consul." */
  readonly domain: string;
  readonly altDomain: string | null;
  /** TTL (seconds) per service name; keys ending in "*" are prefixes. "*" alone is the default. */
  readonly serviceTtl: Readonly<Record<string, number>>;
  readonly nodeTtl: number;
  /** TTL for answers that differ by caller (mesh answers). */
  readonly meshTtl: number;
  readonly udpAnswerLimit: number;
  readonly aRecordLimit: number;
  readonly enableTruncate: boolean;
  readonly onlyPassing: boolean;
  /** Upper bound of the UDP payload size we send, whatever the client advertises. */
  readonly maxUdpSize: number;
  readonly recursors: readonly string[];
  readonly recursorTimeoutMs: number;
  readonly recursorStrategy: 'sequential' | 'random';
  /** Resolvers (IP or CIDR) whose EDNS Client Subnet option names the caller. */
  readonly trustedEcsResolvers: readonly string[];
}

export interface SidecarConfig {
  readonly enabled: boolean;
  readonly defaultHosts: readonly string[];
  readonly quietPeriodMs: number;
  readonly maxDelayMs: number;
  readonly propagationDelayMs: number;
  readonly maxWritesPerSecond: number;
  readonly maxHosts: number;
  /** 0: never expire. */
  readonly expireAfterMs: number;
  readonly maxDeletionsPerCycle: number;
  readonly namespaceDefaults: boolean;
}

/** Live mode: how Discovery follows the upstream Consul and Kubernetes API (docs/adr/0008-0010). */
export interface LiveConfig {
  /** Sockets to the upstream Consul agent for Discovery's own watches, at most. */
  readonly maxUpstreamConnections: number;
  /** Callers' blocking requests passed through to the upstream at once, at most (over it: 429). */
  readonly maxPassthroughBlocking: number;
  /** Check each caller's token against the upstream before answering from Discovery's catalog. */
  readonly aclCheck: boolean;
  readonly aclCacheTtlMs: number;
  /** Wait of Discovery's own blocking queries to the upstream. */
  readonly watchWaitMs: number;
  /** Services watched with their own blocking query (the most looked up). */
  readonly hotWatches: number;
  /** Period of the full index-probe sweep over every service. */
  readonly probeSweepMs: number;
  /** Lease duration for the replica that expires hosts and deletes Sidecars. */
  readonly leaseDurationMs: number;
}

export interface DiscoveryConfig {
  readonly httpAddr: string;
  readonly dnsAddr: string;
  readonly adminAddr: string;
  readonly adminToken: string | null;
  readonly consulSnapshot: string | null;
  readonly kubeSnapshot: string | null;
  /** Live mode: URL of the upstream Consul agent's HTTP API (replaces consulSnapshot). */
  readonly consulAddr: string | null;
  /** File holding Discovery's own Consul token (else CONSUL_HTTP_TOKEN). The token itself never enters the config. */
  readonly consulTokenFile: string | null;
  /** Live mode: kubeconfig file of the cluster (replaces kubeSnapshot). Never taken implicitly from KUBECONFIG or ~/.kube. */
  readonly kubeconfig: string | null;
  /** Live mode: the cluster this Pod runs in, through its service-account token. */
  readonly kubeInCluster: boolean;
  /** Namespace of the Lease (default POD_NAMESPACE, else "discovery"). */
  readonly namespace: string;
  /** This replica's name: Lease holder identity, audit trail (default POD_NAME, else the host name). */
  readonly replicaId: string;
  /** Upstream KV key holding mode and pins. */
  readonly controlKey: string;
  /** Kubernetes watches down this long: every answer HAProxy (reason kube-stale). */
  readonly kubeStaleAfterMs: number;
  readonly stateDir: string;
  readonly datacenter: string;
  readonly nodeName: string;
  readonly meshRule: MeshRule;
  readonly clusterDomain: string;
  readonly istioRootNamespace: string;
  readonly logLevel: string;
  /** Poll interval that backs up file watching (inotify is not delivered on every volume type). */
  readonly snapshotPollMs: number;
  readonly dns: DnsConfig;
  readonly sidecars: SidecarConfig;
  readonly live: LiveConfig;
}
