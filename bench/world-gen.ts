// Synthetic worlds at fleet scale for benchmarks and soak tests: a consul.json of catalog
// registrations and a kube.yaml of kubectl-style objects, in the same formats as the demo.
// Deterministic for a given seed, so a benchmark run can be repeated exactly.
//
// Every Pod gets a loopback address (127.1.x.y by default), so a benchmark client can bind to
// any Pod's IP and be identified as that caller.
//
//   node --import tsx bench/world-gen.ts --out bench/out/world --services 2000 --instances 20 \
//        --workloads 2000 --pods-per-workload 10 --meshed 0.5 --migrated 0.25 --seed 1

import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export interface WorldGenOptions {
  /** Consul services (each a group of HAProxy nodes). */
  readonly services: number;
  /** HAProxy nodes per service: services × instances Consul instances. */
  readonly instancesPerService: number;
  /** Kubernetes Deployments; workload i runs the code of service i (when i < services). */
  readonly workloads: number;
  readonly podsPerWorkload: number;
  /** Fraction of workloads whose Pods carry the Istio sidecar. */
  readonly meshedFraction: number;
  /** Fraction of services with a Kubernetes Service + EndpointSlice (chosen among meshed workloads first). */
  readonly migratedFraction: number;
  readonly namespaces: number;
  readonly seed: number;
  readonly datacenter: string;
  /** First two octets of Pod IPs; Pods are numbered from <podNet>.0.1, spilling into the next /16. */
  readonly podNet: string;
  /**
   * 'yaml': one document per object, as `kubectl get -o yaml` per object. 'json': one `kind: List`
   * as `kubectl get -o json` prints it (also valid YAML), which loads several times faster at scale.
   */
  readonly kubeFormat: 'yaml' | 'json';
}

export const DEFAULT_WORLD: WorldGenOptions = {
  services: 2000,
  instancesPerService: 20,
  workloads: 2000,
  podsPerWorkload: 10,
  meshedFraction: 0.5,
  migratedFraction: 0.25,
  namespaces: 50,
  seed: 1,
  datacenter: 'dc1',
  podNet: '127.1',
  kubeFormat: 'yaml',
};

export interface GeneratedWorld {
  readonly consulJson: string;
  readonly kubeYaml: string;
  readonly summary: {
    readonly services: number;
    readonly instances: number;
    readonly pods: number;
    readonly meshedWorkloads: number;
    readonly migratedServices: number;
    /** A few caller IPs for benchmarks: a meshed one and an unmeshed one (null when there is none). */
    readonly meshedCallerIp: string | null;
    readonly unmeshedCallerIp: string | null;
  };
}

/** mulberry32: tiny, fast, good enough to pick statuses and permutations reproducibly. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function permutation(n: number, random: () => number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

/** The k-th usable host address after base "a.b" (skipping .0 and .255 in the last octet). */
function hostAddress(base: string, k: number): string {
  const [a, b] = base.split('.').map(Number) as [number, number];
  const perSlash16 = 256 * 254;
  const second = b + Math.floor(k / perSlash16);
  const rest = k % perSlash16;
  if (second > 255) throw new Error(`address space after ${base} exhausted at host ${k}`);
  return `${a}.${second}.${Math.floor(rest / 254)}.${(rest % 254) + 1}`;
}

type KubeObject = { readonly [key: string]: unknown };

const PLAIN = /^[A-Za-z0-9_./][A-Za-z0-9_./:@-]*$/;
// Words and numbers YAML would read as something other than a string (1.1 words too, for older readers).
const RESERVED = /^(true|false|null|yes|no|on|off|y|n|~|[-+]?\.(inf|nan))$/i;

function scalar(v: unknown): string {
  if (typeof v === 'string') return PLAIN.test(v) && !RESERVED.test(v) && Number.isNaN(Number(v)) ? v : JSON.stringify(v);
  return JSON.stringify(v);
}

/** A minimal block-style YAML printer for plain data, laid out like kubectl's output (sequences flush with their key). */
function toYaml(value: KubeObject, indent: string): string {
  let out = '';
  for (const [key, v] of Object.entries(value)) {
    if (Array.isArray(v)) {
      if (v.length === 0) out += `${indent}${key}: []\n`;
      else {
        out += `${indent}${key}:\n`;
        for (const el of v as unknown[]) {
          if (typeof el === 'object' && el !== null) out += `${indent}- ${toYaml(el as KubeObject, `${indent}  `).slice(indent.length + 2)}`;
          else out += `${indent}- ${scalar(el)}\n`;
        }
      }
    } else if (typeof v === 'object' && v !== null) {
      out += Object.keys(v).length === 0 ? `${indent}${key}: {}\n` : `${indent}${key}:\n${toYaml(v as KubeObject, `${indent}  `)}`;
    } else out += `${indent}${key}: ${scalar(v)}\n`;
  }
  return out;
}

const pad = (n: number, width = 4) => String(n).padStart(width, '0');

export function generateWorld(options: Partial<WorldGenOptions> = {}): GeneratedWorld {
  const o: WorldGenOptions = { ...DEFAULT_WORLD, ...options };
  const random = rng(o.seed);
  const serviceName = (i: number) => `svc-${pad(i)}`;
  const namespaceOf = (i: number) => `team-${pad(i % o.namespaces, 2)}`;

  // Meshed workloads and migrated services come from one ranking, so every migrated service is
  // also meshed while migratedFraction × services ≤ meshedFraction × workloads.
  const rank = new Array<number>(o.workloads);
  permutation(o.workloads, random).forEach((w, r) => (rank[w] = r));
  const meshedCount = Math.round(o.meshedFraction * o.workloads);
  const migratedCount = Math.round(o.migratedFraction * o.services);
  const isMeshed = (w: number) => rank[w]! < meshedCount;
  const isMigrated = (i: number) => i < o.workloads && rank[i]! < migratedCount;

  // ---- Consul: one registration per HAProxy node.
  const regs: string[] = [];
  let nodeNo = 0;
  for (let i = 0; i < o.services; i++) {
    const name = serviceName(i);
    const port = 8080;
    for (let j = 0; j < o.instancesPerService; j++) {
      const node = `haproxy-${name}-${pad(j + 1, 2)}`;
      const address = hostAddress('10.20', nodeNo++);
      const roll = random();
      const status = roll < 0.01 ? 'critical' : roll < 0.03 ? 'warning' : 'passing';
      const id = `${name}-${pad(j + 1, 2)}`;
      regs.push(
        JSON.stringify({
          Node: node,
          Address: address,
          Datacenter: o.datacenter,
          TaggedAddresses: { lan: address, wan: address },
          NodeMeta: { 'consul-network-segment': '', role: 'haproxy' },
          Service: { ID: id, Service: name, Tags: j % 2 === 0 ? ['http', 'primary'] : ['http'], Address: '', Meta: { haproxy_backend: `${name}_backend` }, Port: port },
          Checks: [{ CheckID: `service:${id}`, Name: `HAProxy frontend ${name}`, Status: status, ServiceID: id, Output: status === 'passing' ? 'HTTP GET: 200 OK' : `HTTP GET: ${status}`, Type: 'http', Interval: '10s', Timeout: '2s' }],
        }),
      );
    }
  }

  // ---- Kubernetes: built as objects, printed as kubectl would (YAML, or JSON for fast loading).
  const objects: KubeObject[] = [];
  const usedNamespaces = Math.min(o.namespaces, Math.max(o.workloads, o.services));
  for (let n = 0; n < usedNamespaces; n++) {
    objects.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { labels: { 'istio-injection': 'enabled', 'kubernetes.io/metadata.name': namespaceOf(n) }, name: namespaceOf(n) } });
  }
  let podNo = 0;
  let meshedCallerIp: string | null = null;
  let unmeshedCallerIp: string | null = null;
  let migratedServices = 0;
  for (let w = 0; w < o.workloads; w++) {
    const app = serviceName(w);
    const ns = namespaceOf(w);
    const meshed = isMeshed(w);
    const hash = (0x5a000000 + w * 7919).toString(16).slice(-9);
    const endpoints: KubeObject[] = [];
    for (let p = 0; p < o.podsPerWorkload; p++) {
      const ip = hostAddress(o.podNet, podNo++);
      const pod = `${app}-${hash}-${pad(p, 5)}`;
      if (meshed) meshedCallerIp ??= ip;
      else unmeshedCallerIp ??= ip;
      const containers: KubeObject[] = [{ image: `registry.example.com/${app}:1`, name: app }];
      if (meshed) containers.push({ image: 'docker.io/istio/proxyv2:1.24.2', name: 'istio-proxy' });
      objects.push({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          ...(meshed ? { annotations: { 'sidecar.istio.io/status': '{"containers":["istio-proxy"],"revision":"default"}' } } : {}),
          labels: { app, 'pod-template-hash': hash },
          name: pod,
          namespace: ns,
          ownerReferences: [{ apiVersion: 'apps/v1', controller: true, kind: 'ReplicaSet', name: `${app}-${hash}`, uid: `rs-${w}` }],
        },
        spec: { containers },
        status: { conditions: [{ status: 'True', type: 'Ready' }], phase: 'Running', podIP: ip, podIPs: [{ ip }] },
      });
      endpoints.push({ addresses: [ip], conditions: { ready: true }, targetRef: { kind: 'Pod', name: pod, namespace: ns } });
    }
    if (w < o.services && isMigrated(w)) {
      const clusterIP = hostAddress('10.96', migratedServices++);
      const ports = [{ name: 'http', port: 8080, protocol: 'TCP' }];
      objects.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: app, namespace: ns }, spec: { clusterIP, ports, selector: { app }, type: 'ClusterIP' } });
      if (endpoints.length > 0) {
        objects.push({ addressType: 'IPv4', apiVersion: 'discovery.k8s.io/v1', endpoints, kind: 'EndpointSlice', metadata: { labels: { 'kubernetes.io/service-name': app }, name: `${app}-${hash.slice(0, 5)}`, namespace: ns }, ports });
      }
    }
  }
  const kubeYaml =
    o.kubeFormat === 'json'
      ? `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, 1)}\n`
      : `${objects.map((obj) => toYaml(obj, '')).join('---\n')}`;

  return {
    consulJson: `[\n${regs.join(',\n')}\n]\n`,
    kubeYaml,
    summary: {
      services: o.services,
      instances: o.services * o.instancesPerService,
      pods: podNo,
      meshedWorkloads: meshedCount,
      migratedServices,
      meshedCallerIp,
      unmeshedCallerIp,
    },
  };
}

const USAGE = `usage: node --import tsx bench/world-gen.ts --out DIR [--services N] [--instances N] [--workloads N]
       [--pods-per-workload N | --pods N] [--meshed FRACTION] [--migrated FRACTION] [--namespaces N]
       [--seed N] [--datacenter DC] [--pod-net A.B] [--kube-format yaml|json]
Writes DIR/consul.json and DIR/kube.yaml (DIR/kube.json with --kube-format json).`;

function numberOption(values: Readonly<Record<string, string | boolean | undefined>>, key: string, fallback: number, { fraction = false } = {}): number {
  const raw = values[key];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  const ok = fraction ? n >= 0 && n <= 1 : Number.isInteger(n) && n >= 0;
  if (typeof raw !== 'string' || raw.trim() === '' || !ok) throw new Error(`--${key} must be ${fraction ? 'a fraction 0-1' : 'a whole number'}, got ${String(raw)}\n${USAGE}`);
  return n;
}

function kubeFormat(raw: string | undefined): 'yaml' | 'json' {
  if (raw === undefined || raw === 'yaml' || raw === 'json') return raw ?? 'yaml';
  throw new Error(`--kube-format must be yaml or json, got ${raw}\n${USAGE}`);
}

export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      out: { type: 'string' },
      services: { type: 'string' },
      instances: { type: 'string' },
      workloads: { type: 'string' },
      'pods-per-workload': { type: 'string' },
      pods: { type: 'string' },
      meshed: { type: 'string' },
      migrated: { type: 'string' },
      namespaces: { type: 'string' },
      seed: { type: 'string' },
      datacenter: { type: 'string' },
      'pod-net': { type: 'string' },
      'kube-format': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values.out) throw new Error(`--out is required\n${USAGE}`);
  const d = DEFAULT_WORLD;
  const workloads = numberOption(values, 'workloads', d.workloads);
  const pods = values.pods === undefined ? undefined : numberOption(values, 'pods', 0);
  const opts: WorldGenOptions = {
    services: numberOption(values, 'services', d.services),
    instancesPerService: numberOption(values, 'instances', d.instancesPerService),
    workloads,
    podsPerWorkload: pods !== undefined && workloads > 0 ? Math.ceil(pods / workloads) : numberOption(values, 'pods-per-workload', d.podsPerWorkload),
    meshedFraction: numberOption(values, 'meshed', d.meshedFraction, { fraction: true }),
    migratedFraction: numberOption(values, 'migrated', d.migratedFraction, { fraction: true }),
    namespaces: Math.max(1, numberOption(values, 'namespaces', d.namespaces)),
    seed: numberOption(values, 'seed', d.seed),
    datacenter: values.datacenter ?? d.datacenter,
    podNet: values['pod-net'] ?? d.podNet,
    kubeFormat: kubeFormat(values['kube-format']),
  };
  const world = generateWorld(opts);
  const dir = resolve(values.out);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'consul.json'), world.consulJson);
  await writeFile(join(dir, opts.kubeFormat === 'json' ? 'kube.json' : 'kube.yaml'), world.kubeYaml);
  console.log(JSON.stringify({ out: dir, ...world.summary }, null, 2));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  });
}
