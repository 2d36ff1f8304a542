// The upstream side of the live-mode benchmark, in its own process so that serving the replicas'
// watches and reads never shares an event loop with the clients that time the answers: the
// Consul agent double and the Kubernetes API double holding a fleet from world-gen, driven over
// IPC by bench/live.ts. It applies the changes the bench asks for and stamps each with the time it
// was written, reports what the doubles saw (requests per token, open connections by client port)
// and what they cost (CPU, RSS, event-loop delay).
//
// Started by bench/live.ts with child_process.fork; not meant to be run by hand.

import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { ConsulDouble, type RequestLogEntry } from '../test/support/consul-double/index.ts';
import { KubeDouble } from '../test/support/kube-double/index.ts';
import { generateWorld } from './world-gen.ts';

export const WORLD = { services: 2000, instancesPerService: 3, workloads: 2000, podsPerWorkload: 10, meshedFraction: 0.5, migratedFraction: 0.25 } as const;

/** Discovery's own token for each replica (so the double's request log tells the replicas apart). */
export const replicaToken = (replica: string): string => `discovery-${replica}`;
/** The token the bench's callers send to a replica (so ACL probes made for them are attributed too). */
export const callerToken = (replica: string): string => `caller-${replica}`;

export type DoublesCommand =
  | { readonly cmd: 'mark' }
  | { readonly cmd: 'stats' }
  | { readonly cmd: 'peers' }
  | { readonly cmd: 'flip'; readonly node: string; readonly checkId: string; readonly status: 'passing' | 'critical' }
  | { readonly cmd: 'register'; readonly service: string; readonly id: string; readonly node: string; readonly address: string }
  | { readonly cmd: 'deregister'; readonly node: string; readonly id: string }
  | { readonly cmd: 'endpoints'; readonly namespace: string; readonly slice: string; readonly ready: boolean }
  | { readonly cmd: 'sidecars' }
  | { readonly cmd: 'exit' };

export interface DoublesStats {
  /** Requests since the last mark, by token (null: none sent). */
  readonly consulByToken: Record<string, number>;
  /** The same requests by kind (endpoint and how it was asked). */
  readonly consulByKind: Record<string, number>;
  readonly kubeRequests: number;
  readonly sinceMs: number;
  /** CPU seconds (user + system) of this process since the mark. */
  readonly cpuSeconds: number;
  readonly rssMb: number;
  /** Event-loop delay since the mark (ms). */
  readonly loopP99Ms: number;
  readonly loopMaxMs: number;
}

export interface DoublesReady {
  readonly type: 'ready';
  readonly consulUrl: string;
  readonly consulPort: number;
  readonly kubeconfig: string;
  readonly loadMs: number;
  readonly rssMb: number;
  readonly summary: { services: number; instances: number; pods: number; migratedServices: number; meshedCallerIp: string | null; unmeshedCallerIp: string | null };
  /** Every Consul service instance: its node, service id and check id (for flips and deregistrations). */
  readonly instances: ReadonlyArray<{ service: string; node: string; id: string; checkId: string; address: string }>;
  /** Migrated services: name, namespace, ClusterIP, EndpointSlice name. */
  readonly migrated: ReadonlyArray<{ service: string; namespace: string; clusterIP: string; slice: string }>;
}

interface Registration {
  Node: string;
  Address: string;
  Service: { ID: string; Service: string };
  Checks: Array<{ CheckID: string }>;
}

type KubeItem = { kind: string; metadata: { name: string; namespace?: string }; spec?: { clusterIP?: string }; endpoints?: Array<{ conditions: { ready: boolean } }> };

async function start(dir: string, replicas: readonly string[]): Promise<{ consul: ConsulDouble; kube: KubeDouble; ready: DoublesReady }> {
  const started = Date.now();
  const world = generateWorld({ ...WORLD, kubeFormat: 'json' });
  const discoveryRules = { serviceRead: ['*'], nodeRead: true, keyRead: ['discovery/'], keyWrite: ['discovery/'] };
  const tokens: Record<string, typeof discoveryRules> = {};
  for (const r of replicas) {
    tokens[replicaToken(r)] = discoveryRules;
    tokens[callerToken(r)] = { serviceRead: ['*'], nodeRead: true, keyRead: [], keyWrite: [] };
  }
  // Consul's limit is 200 connections per client IP; each replica would have its own node's agent
  // (its own IP), but here both share 127.0.0.1, so the double allows 200 for each of them.
  const consul = await ConsulDouble.start({
    acl: { managementToken: 'bench-root', tokens, anonymous: { serviceRead: ['*'], nodeRead: true } },
    maxConnsPerClient: 200 * replicas.length,
  });
  const regs = JSON.parse(world.consulJson) as Registration[];
  for (const reg of regs) consul.register(reg);
  const kube = await KubeDouble.start();
  const items = (JSON.parse(world.kubeYaml) as { items: KubeItem[] }).items;
  kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'discovery' } });
  const migrated: Array<{ service: string; namespace: string; clusterIP: string; slice: string }> = [];
  const clusterIps = new Map<string, string>();
  for (const item of items) {
    kube.create(item);
    if (item.kind === 'Service') clusterIps.set(`${item.metadata.namespace}/${item.metadata.name}`, item.spec?.clusterIP ?? '');
  }
  for (const item of items) {
    if (item.kind !== 'EndpointSlice') continue;
    const service = item.metadata.name.replace(/-[^-]+$/, '');
    const namespace = item.metadata.namespace ?? '';
    migrated.push({ service, namespace, clusterIP: clusterIps.get(`${namespace}/${service}`) ?? '', slice: item.metadata.name });
  }
  const kubeconfig = join(dir, 'kubeconfig');
  await kube.writeKubeconfig(kubeconfig);
  const instances = regs.map((r) => ({ service: r.Service.Service, node: r.Node, id: r.Service.ID, checkId: r.Checks[0]!.CheckID, address: r.Address }));
  return {
    consul,
    kube,
    ready: {
      type: 'ready',
      consulUrl: consul.url,
      consulPort: consul.port,
      kubeconfig,
      loadMs: Date.now() - started,
      rssMb: Math.round(process.memoryUsage().rss / 2 ** 20),
      summary: { ...world.summary },
      instances,
      migrated,
    },
  };
}

/** What a request was, for the breakdown: the endpoint without its argument, and how it was asked. */
function requestKind(e: RequestLogEntry): string {
  const endpoint = e.path.split('/').slice(0, 4).join('/');
  const how = e.query['index'] !== undefined ? ' (blocking)' : e.query['filter'] !== undefined ? ' (filtered)' : '';
  return `${e.method} ${endpoint}${how}`;
}

/**
 * Requests per token, counted from the double's request log (which keeps only the latest 10,000
 * entries: it is read every 250 ms, far more often than that many requests arrive).
 */
class TokenCounter {
  readonly #consul: ConsulDouble;
  #last: RequestLogEntry | null = null;
  #counts = new Map<string, number>();
  #kinds = new Map<string, number>();

  constructor(consul: ConsulDouble) {
    this.#consul = consul;
  }

  take(): void {
    const log = this.#consul.stats.log();
    const from = this.#last === null ? 0 : log.lastIndexOf(this.#last) + 1;
    for (let i = from; i < log.length; i++) {
      const e = log[i]!;
      const key = e.token ?? 'none';
      this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
      const kind = requestKind(e);
      this.#kinds.set(kind, (this.#kinds.get(kind) ?? 0) + 1);
    }
    this.#last = log[log.length - 1] ?? this.#last;
  }

  reset(): void {
    this.#counts = new Map();
    this.#kinds = new Map();
  }

  counts(): Record<string, number> {
    return Object.fromEntries(this.#counts);
  }

  /** Requests by kind (every token together). */
  kinds(): Record<string, number> {
    return Object.fromEntries([...this.#kinds].sort((a, b) => b[1] - a[1]));
  }
}

/** Sets every endpoint of a slice ready or not, as the EndpointSlice controller does when Pods change readiness. */
function setEndpoints(kube: KubeDouble, namespace: string, slice: string, ready: boolean): void {
  const current = kube.get('discovery.k8s.io/v1', 'EndpointSlice', namespace, slice) as (KubeItem & { endpoints: Array<{ conditions: { ready: boolean } }> }) | null;
  if (!current) throw new Error(`no EndpointSlice ${namespace}/${slice}`);
  for (const e of current.endpoints) e.conditions = { ...e.conditions, ready };
  kube.apply(current);
}

async function main(): Promise<void> {
  const [dir, replicasArg] = process.argv.slice(2);
  if (!dir || !replicasArg || !process.send) throw new Error('usage: forked by bench/live.ts with <dir> <replica,replica>');
  const send = (msg: unknown): void => {
    process.send?.(msg);
  };
  const { consul, kube, ready } = await start(dir, replicasArg.split(','));
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  let markAt = Date.now();
  let markCpu = process.cpuUsage();
  let kubeMark = kube.stats.requests();
  const byToken = new TokenCounter(consul);
  const counting = setInterval(() => byToken.take(), 250);
  send(ready);

  process.on('message', (raw: DoublesCommand & { seq: number }) => {
    const reply = (body: object): void => send({ type: 'reply', seq: raw.seq, ...body });
    try {
      switch (raw.cmd) {
        case 'mark':
          byToken.take();
          byToken.reset();
          kubeMark = kube.stats.requests();
          markAt = Date.now();
          markCpu = process.cpuUsage();
          loop.reset();
          reply({});
          break;
        case 'stats': {
          byToken.take();
          const consulByToken = byToken.counts();
          const cpu = process.cpuUsage(markCpu);
          const stats: DoublesStats = {
            consulByToken,
            consulByKind: byToken.kinds(),
            kubeRequests: kube.stats.requests() - kubeMark,
            sinceMs: Date.now() - markAt,
            cpuSeconds: (cpu.user + cpu.system) / 1e6,
            rssMb: Math.round(process.memoryUsage().rss / 2 ** 20),
            loopP99Ms: loop.percentile(99) / 1e6,
            loopMaxMs: loop.max / 1e6,
          };
          reply({ stats });
          break;
        }
        case 'peers':
          reply({ ports: consul.stats.peerPorts() });
          break;
        case 'flip':
          consul.setCheckStatus(raw.node, raw.checkId, raw.status, raw.status === 'passing' ? 'HTTP GET: 200 OK' : 'HTTP GET: 503 Service Unavailable');
          reply({ at: Date.now() });
          break;
        case 'register':
          consul.register({
            Node: raw.node, Address: raw.address, NodeMeta: { 'consul-network-segment': '', role: 'haproxy' },
            Service: { ID: raw.id, Service: raw.service, Tags: ['http'], Port: 8080 },
            Checks: [{ CheckID: `service:${raw.id}`, Name: `HAProxy frontend ${raw.service}`, Status: 'passing', ServiceID: raw.id, Output: 'HTTP GET: 200 OK' }],
          });
          reply({ at: Date.now() });
          break;
        case 'deregister':
          consul.deregister({ Node: raw.node, ServiceID: raw.id });
          reply({ at: Date.now() });
          break;
        case 'endpoints':
          setEndpoints(kube, raw.namespace, raw.slice, raw.ready);
          reply({ at: Date.now() });
          break;
        case 'sidecars':
          reply({ sidecars: kube.list('networking.istio.io/v1', 'Sidecar') });
          break;
        case 'exit':
          clearInterval(counting);
          loop.disable();
          void Promise.all([consul.close(), kube.close()]).then(() => {
            reply({});
            process.disconnect();
          });
          break;
      }
    } catch (err) {
      reply({ error: err instanceof Error ? err.message : String(err) });
    }
  });
  process.on('disconnect', () => {
    void Promise.all([consul.close(), kube.close()]).finally(() => process.exit(0));
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    console.error('live-doubles:', err);
    process.exit(1);
  });
}
