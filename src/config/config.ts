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

export interface DiscoveryConfig {
  readonly httpAddr: string;
  readonly dnsAddr: string;
  readonly adminAddr: string;
  readonly adminToken: string | null;
  readonly consulSnapshot: string | null;
  readonly kubeSnapshot: string | null;
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
}
