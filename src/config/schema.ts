// Every knob in one table: YAML key (also the flag name), env var, type and where it lands.
// load.ts reads file, env and flags through this table only.

export type KnobType = 'addr' | 'string' | 'path' | 'int' | 'bool' | 'duration' | 'list' | 'ttl-map' | 'mesh-rule' | 'strategy' | 'domain' | 'url' | 'kv-key';

export interface Knob {
  /** YAML key (dotted for nested sections) and, for top-level knobs, the CLI flag `--<key>`. */
  readonly key: string;
  /** Environment variable, for the knobs that have one. */
  readonly env?: string;
  readonly type: KnobType;
  /** Property path in DiscoveryConfig. */
  readonly path: readonly [string] | readonly [string, string];
  readonly doc: string;
  readonly min?: number;
  readonly max?: number;
}

export const KNOBS: readonly Knob[] = [
  { key: 'http-addr', env: 'DISCOVERY_HTTP_ADDR', type: 'addr', path: ['httpAddr'], doc: 'Consul HTTP API listener (host:port)' },
  { key: 'dns-addr', env: 'DISCOVERY_DNS_ADDR', type: 'addr', path: ['dnsAddr'], doc: 'Consul DNS listener, UDP and TCP (host:port)' },
  { key: 'admin-addr', env: 'DISCOVERY_ADMIN_ADDR', type: 'addr', path: ['adminAddr'], doc: 'admin API, metrics and health listener (host:port)' },
  { key: 'consul-snapshot', env: 'DISCOVERY_CONSUL_SNAPSHOT', type: 'path', path: ['consulSnapshot'], doc: 'JSON array of Consul catalog registrations (embedded mode)' },
  { key: 'kube-snapshot', env: 'DISCOVERY_KUBE_SNAPSHOT', type: 'path', path: ['kubeSnapshot'], doc: 'multi-document YAML of Kubernetes objects (embedded mode)' },
  { key: 'consul-addr', env: 'DISCOVERY_CONSUL_ADDR', type: 'url', path: ['consulAddr'], doc: 'live mode: URL of the upstream Consul agent HTTP API (http or https); token from CONSUL_HTTP_TOKEN or consul-token-file' },
  { key: 'consul-token-file', env: 'DISCOVERY_CONSUL_TOKEN_FILE', type: 'path', path: ['consulTokenFile'], doc: "file holding Discovery's own Consul ACL token" },
  { key: 'kubeconfig', env: 'DISCOVERY_KUBECONFIG', type: 'path', path: ['kubeconfig'], doc: 'live mode: kubeconfig of the cluster (never taken from KUBECONFIG or ~/.kube implicitly)' },
  { key: 'kube-in-cluster', env: 'DISCOVERY_KUBE_IN_CLUSTER', type: 'bool', path: ['kubeInCluster'], doc: "live mode: the cluster this Pod runs in (service-account token)" },
  { key: 'namespace', env: 'DISCOVERY_NAMESPACE', type: 'string', path: ['namespace'], doc: 'namespace of the Lease (default POD_NAMESPACE, else discovery)' },
  { key: 'replica-id', env: 'DISCOVERY_REPLICA_ID', type: 'string', path: ['replicaId'], doc: 'this replica: Lease holder identity and audit actor (default POD_NAME, else the host name)' },
  { key: 'control-key', env: 'DISCOVERY_CONTROL_KEY', type: 'kv-key', path: ['controlKey'], doc: 'upstream Consul KV key holding mode and pins (live mode)' },
  { key: 'kube-stale-after', env: 'DISCOVERY_KUBE_STALE_AFTER', type: 'duration', path: ['kubeStaleAfterMs'], doc: 'Kubernetes watches down this long: every answer HAProxy', min: 1000 },
  { key: 'state-dir', env: 'DISCOVERY_STATE_DIR', type: 'path', path: ['stateDir'], doc: 'where mode, pins, audit trail, agent registrations and Sidecars are kept' },
  { key: 'datacenter', env: 'DISCOVERY_DATACENTER', type: 'string', path: ['datacenter'], doc: 'Consul datacenter name answered' },
  { key: 'node-name', env: 'DISCOVERY_NODE_NAME', type: 'string', path: ['nodeName'], doc: 'agent node name reported by /v1/agent/self' },
  { key: 'mesh-rule', env: 'DISCOVERY_MESH_RULE', type: 'mesh-rule', path: ['meshRule'], doc: 'a target is in the mesh when "any" or "all" ready endpoints carry the sidecar' },
  { key: 'cluster-domain', env: 'DISCOVERY_CLUSTER_DOMAIN', type: 'string', path: ['clusterDomain'], doc: 'Kubernetes cluster domain' },
  { key: 'istio-root-namespace', env: 'DISCOVERY_ISTIO_ROOT_NAMESPACE', type: 'string', path: ['istioRootNamespace'], doc: 'Istio root namespace (mesh-wide default Sidecar)' },
  { key: 'log-level', env: 'DISCOVERY_LOG_LEVEL', type: 'string', path: ['logLevel'], doc: 'pino log level' },
  { key: 'snapshot-poll', env: 'DISCOVERY_SNAPSHOT_POLL', type: 'duration', path: ['snapshotPollMs'], doc: 'poll interval backing up snapshot file watching', min: 50 },
  { key: 'dns.domain', type: 'domain', path: ['dns', 'domain'], doc: 'DNS domain answered' },
  { key: 'dns.alt-domain', type: 'domain', path: ['dns', 'altDomain'], doc: 'second domain answered identically' },
  { key: 'dns.service-ttl', type: 'ttl-map', path: ['dns', 'serviceTtl'], doc: 'TTL per service name ("name": 10s, "prefix*": 5s, "*": default)' },
  { key: 'dns.node-ttl', type: 'duration', path: ['dns', 'nodeTtl'], doc: 'TTL of node lookups' },
  { key: 'dns.mesh-ttl', type: 'duration', path: ['dns', 'meshTtl'], doc: 'TTL of answers that differ by caller (mesh answers)' },
  { key: 'dns.udp-answer-limit', type: 'int', path: ['dns', 'udpAnswerLimit'], doc: 'answers in a non-EDNS UDP reply', min: 1, max: 8 },
  { key: 'dns.a-record-limit', type: 'int', path: ['dns', 'aRecordLimit'], doc: 'cap of A/AAAA answers on any transport (0 = none)', min: 0, max: 4096 },
  { key: 'dns.enable-truncate', type: 'bool', path: ['dns', 'enableTruncate'], doc: 'set TC when answers were trimmed' },
  { key: 'dns.only-passing', type: 'bool', path: ['dns', 'onlyPassing'], doc: 'drop warning instances from DNS answers' },
  { key: 'dns.max-udp-size', type: 'int', path: ['dns', 'maxUdpSize'], doc: 'largest UDP reply sent, whatever the client advertises', min: 512, max: 65467 },
  { key: 'dns.recursors', type: 'list', path: ['dns', 'recursors'], doc: 'upstream resolvers (host or host:port) for names outside the domain' },
  { key: 'dns.recursor-timeout', type: 'duration', path: ['dns', 'recursorTimeoutMs'], doc: 'timeout per recursor', min: 1 },
  { key: 'dns.recursor-strategy', type: 'strategy', path: ['dns', 'recursorStrategy'], doc: '"sequential" or "random"' },
  { key: 'dns.trusted-ecs-resolvers', type: 'list', path: ['dns', 'trustedEcsResolvers'], doc: 'resolver IPs/CIDRs whose EDNS Client Subnet names the caller' },
  { key: 'sidecars.enabled', env: 'DISCOVERY_SIDECARS', type: 'bool', path: ['sidecars', 'enabled'], doc: 'maintain Sidecars from lookups and gate ClusterIP answers on them' },
  { key: 'sidecars.default-hosts', type: 'list', path: ['sidecars', 'defaultHosts'], doc: 'egress hosts every managed Sidecar carries' },
  { key: 'sidecars.quiet-period', type: 'duration', path: ['sidecars', 'quietPeriodMs'], doc: 'write after lookups have been quiet this long' },
  { key: 'sidecars.max-delay', type: 'duration', path: ['sidecars', 'maxDelayMs'], doc: 'but never later than this after the first pending change' },
  { key: 'sidecars.propagation-delay', type: 'duration', path: ['sidecars', 'propagationDelayMs'], doc: 'time for istiod to push a written Sidecar before its ClusterIPs are handed out' },
  { key: 'sidecars.max-writes-per-second', type: 'int', path: ['sidecars', 'maxWritesPerSecond'], doc: 'sink write rate limit', min: 1, max: 10000 },
  { key: 'sidecars.max-hosts', type: 'int', path: ['sidecars', 'maxHosts'], doc: 'cap of egress hosts in one Sidecar (over it: reported)', min: 1, max: 100000 },
  { key: 'sidecars.expire-after', type: 'duration', path: ['sidecars', 'expireAfterMs'], doc: 'drop a host unused this long (0 = never)' },
  { key: 'sidecars.max-deletions-per-cycle', type: 'int', path: ['sidecars', 'maxDeletionsPerCycle'], doc: 'hosts removed per reconcile cycle at most', min: 0, max: 100000 },
  { key: 'sidecars.namespace-defaults', type: 'bool', path: ['sidecars', 'namespaceDefaults'], doc: 'write a default Sidecar in namespaces that have none' },
  { key: 'live.max-upstream-connections', type: 'int', path: ['live', 'maxUpstreamConnections'], doc: "sockets to the upstream Consul for Discovery's own requests (catalog watches, the control key, ACL probes of callers' tokens)", min: 12, max: 190 },
  { key: 'live.max-passthrough-blocking', type: 'int', path: ['live', 'maxPassthroughBlocking'], doc: "callers' blocking requests passed through at once (over it: 429)", min: 1, max: 100000 },
  { key: 'live.acl-check', type: 'bool', path: ['live', 'aclCheck'], doc: "check callers' tokens upstream before answering from Discovery's catalog (off only if the anonymous token reads everything)" },
  { key: 'live.acl-cache-ttl', type: 'duration', path: ['live', 'aclCacheTtlMs'], doc: 'how long a token check is reused', min: 1000 },
  { key: 'live.watch-wait', type: 'duration', path: ['live', 'watchWaitMs'], doc: "wait of Discovery's own blocking queries upstream", min: 1000 },
  { key: 'live.hot-watches', type: 'int', path: ['live', 'hotWatches'], doc: 'most looked-up services watched with their own blocking query', min: 0, max: 150 },
  { key: 'live.probe-sweep', type: 'duration', path: ['live', 'probeSweepMs'], doc: 'period of the full index-probe sweep over every service', min: 1000 },
  { key: 'live.lease-duration', type: 'duration', path: ['live', 'leaseDurationMs'], doc: 'Lease of the replica that expires hosts and deletes Sidecars', min: 3000 },
];

export const KNOB_BY_KEY: ReadonlyMap<string, Knob> = new Map(KNOBS.map((k) => [k.key, k]));
