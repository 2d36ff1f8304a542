// One run of the live-mode benchmark: fresh doubles (2,000 services / 6,000 instances / 20,000
// Pods), two `discovery serve` replicas started together, then the phases in order: first sync
// (start to ready), warm-up (callers look services up; the most looked-up get hot watches), idle,
// 10 Consul changes/s, Kubernetes changes. Connections are sampled every second throughout.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChangeTracker, type ChangeTimes } from './live-changes.ts';
import {
  addressesOf, connectionsByPid, cpuSecondsOf, get, readyAfter, rssOf, ServiceFollower, startDoubles, startReplica, tokenFile,
  type Doubles, type ReplicaProcess,
} from './live-clients.ts';
import { callerToken, replicaToken, type DoublesStats } from './live-doubles.ts';

export const REPLICAS = ['replica-a', 'replica-b'] as const;
export const HOT = 48;
export const COLD = 300;
export const KUBE_SERVICES = 10;

export interface Timing {
  readonly idleSeconds: number;
  readonly changeSeconds: number;
  readonly changesPerSecond: number;
}

type Phase = 'sync' | 'warm' | 'idle' | 'changes' | 'kube';

export interface PhaseCost {
  /** Upstream Consul requests/s per replica: Discovery's own token, and callers' tokens (ACL checks). */
  readonly own: Record<string, number>;
  readonly callers: Record<string, number>;
  readonly kubePerSecond: number;
  /** CPU % of one core. */
  readonly replicaCpu: Record<string, number>;
  readonly doubles: DoublesStats;
}

export interface RunResult {
  readonly readyMs: Record<string, number>;
  readonly syncRequests: Record<string, number>;
  /**
   * Highest count seen per phase and replica: [from the double, from ss, the catalog source's own
   * sockets as its /readyz reports them + the control key's one].
   */
  readonly connections: Record<Phase, Record<string, [number, number, number]>>;
  readonly idle: PhaseCost;
  readonly changes: PhaseCost;
  readonly sync: PhaseCost;
  readonly consul: ChangeTimes;
  readonly kube: ChangeTimes;
  readonly rss: Record<string, { rssMb: number; peakMb: number }>;
  readonly doublesLoadMs: number;
  readonly doublesRssMb: number;
  readonly hotSeen: Record<string, number | null>;
  /** The machine's 1-minute load average when the run started and when the changes started. */
  readonly load: { readonly start: number; readonly changes: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Samples the connections of every replica each second, keeping the highest per phase. */
class ConnectionSampler {
  phase: Phase = 'sync';
  readonly max = {} as Record<Phase, Record<string, [number, number, number]>>;
  #timer: NodeJS.Timeout | null = null;

  start(doubles: Doubles, replicas: readonly ReplicaProcess[]): void {
    const sample = async () => {
      const { ports } = await doubles.ask<{ ports: number[] }>({ cmd: 'peers' });
      const { kernel, double } = await connectionsByPid(doubles.ready.consulPort, ports);
      const row = (this.max[this.phase] ??= {});
      for (const r of replicas) {
        const pid = r.proc.pid ?? -1;
        const own = await sourceConnections(r);
        const prev = row[r.name] ?? [0, 0, 0];
        row[r.name] = [Math.max(prev[0], double.get(pid) ?? 0), Math.max(prev[1], kernel.get(pid) ?? 0), Math.max(prev[2], own)];
      }
    };
    this.#timer = setInterval(() => void sample().catch(() => undefined), 1000);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }
}

async function phaseCost(doubles: Doubles, replicas: readonly ReplicaProcess[], cpuAtMark: Map<string, number>): Promise<PhaseCost> {
  const { stats } = await doubles.ask<{ stats: DoublesStats }>({ cmd: 'stats' });
  const seconds = stats.sinceMs / 1000;
  const own: Record<string, number> = {};
  const callers: Record<string, number> = {};
  const replicaCpu: Record<string, number> = {};
  for (const r of replicas) {
    own[r.name] = (stats.consulByToken[replicaToken(r.name)] ?? 0) / seconds;
    callers[r.name] = (stats.consulByToken[callerToken(r.name)] ?? 0) / seconds;
    replicaCpu[r.name] = (100 * ((await cpuSecondsOf(r.proc.pid!)) - (cpuAtMark.get(r.name) ?? 0))) / seconds;
  }
  return { own, callers, kubePerSecond: stats.kubeRequests / seconds, replicaCpu, doubles: stats };
}

async function mark(doubles: Doubles, replicas: readonly ReplicaProcess[]): Promise<Map<string, number>> {
  await doubles.ask({ cmd: 'mark' });
  const cpu = new Map<string, number>();
  for (const r of replicas) cpu.set(r.name, r.proc.pid ? await cpuSecondsOf(r.proc.pid) : 0);
  return cpu;
}

/** Sockets of the catalog source (its /readyz detail) plus the control key's watch. */
async function sourceConnections(r: ReplicaProcess): Promise<number> {
  const a = await get(r.admin, '/readyz', { timeoutMs: 2000 }).catch(() => null);
  const m = a ? /"connections":(\d+)/.exec(a.body) : null;
  return m ? Number(m[1]) + 1 : 0;
}

/** The replica's hot-set size, if /readyz tells it. */
async function hotCount(r: ReplicaProcess): Promise<number | null> {
  const body = (await get(r.admin, '/readyz')).body;
  const m = /"hot":(\d+)/.exec(body);
  return m ? Number(m[1]) : null;
}

export async function runOnce(timing: Timing, log: (msg: string) => void): Promise<RunResult> {
  const loadAtStart = loadavg()[0]!;
  const dir = await mkdtemp(join(tmpdir(), 'discovery-live-bench-'));
  const doubles = await startDoubles(dir, REPLICAS);
  const replicas: ReplicaProcess[] = [];
  const followers: ServiceFollower[] = [];
  const sampler = new ConnectionSampler();
  try {
    const w = doubles.ready;
    log(`doubles: ${w.summary.services} services, ${w.instances.length} instances, ${w.summary.pods} Pods in ${w.loadMs} ms, ${w.rssMb} MB`);
    for (const name of REPLICAS) await writeFile(tokenFile(dir, name), `${replicaToken(name)}\n`, { mode: 0o600 });

    // ---- first sync
    let cpu = await mark(doubles, []);
    for (const name of REPLICAS) {
      replicas.push(await startReplica(name, {
        'consul-addr': w.consulUrl, 'consul-token-file': tokenFile(dir, name), kubeconfig: w.kubeconfig, namespace: 'discovery', 'state-dir': join(dir, name),
      }));
    }
    sampler.start(doubles, replicas);
    const readyMs: Record<string, number> = {};
    await Promise.all(replicas.map(async (r) => (readyMs[r.name] = await readyAfter(r))));
    const sync = await phaseCost(doubles, replicas, cpu);
    const syncRequests = Object.fromEntries(replicas.map((r) => [r.name, Math.round(sync.own[r.name]! * (sync.doubles.sinceMs / 1000))]));
    log(`ready: ${JSON.stringify(readyMs)}; first-sync requests ${JSON.stringify(syncRequests)}`);

    // ---- warm-up: the unmeshed caller looks services up; HOT of them often, COLD once.
    sampler.phase = 'warm';
    const caller = w.summary.unmeshedCallerIp!;
    const names = [...new Set(w.instances.map((i) => i.service))];
    const hot = names.slice(0, HOT);
    const cold = names.slice(HOT + 100, HOT + 100 + COLD);
    const tracker = new ChangeTracker(REPLICAS);
    const status = new Map<string, string>();
    for (const r of replicas) {
      const opts = { from: caller, token: callerToken(r.name) };
      for (let round = 0; round < 6; round++) await Promise.all(hot.map((s) => get(r.http, `/v1/health/service/${s}`, opts)));
      for (const s of [...hot, ...cold]) {
        const first = await get(r.http, `/v1/health/service/${s}`, opts);
        for (const e of JSON.parse(first.body) as Array<{ Service: { ID: string }; Checks: Array<{ Status: string; ServiceID?: string }> }>) {
          status.set(e.Service.ID, e.Checks.find((c) => c.ServiceID === e.Service.ID)?.Status ?? 'passing');
        }
        followers.push(new ServiceFollower(r.http, `/v1/health/service/${s}`, opts, first, (a) => tracker.onAnswer(r.name, s, a)));
      }
    }
    // The hot set is chosen again every 30 s from the lookup counts: wait for it to be in place.
    const warmUntil = Date.now() + 35_000;
    const hotSeen: Record<string, number | null> = {};
    while (Date.now() < warmUntil) {
      for (const r of replicas) hotSeen[r.name] = await hotCount(r);
      if (Object.values(hotSeen).every((n) => n !== null && n >= HOT)) break;
      await sleep(500);
    }
    await sleep(3000);
    log(`warm: hot set ${JSON.stringify(hotSeen)}; connections ${JSON.stringify(sampler.max)}`);

    // ---- idle
    sampler.phase = 'idle';
    cpu = await mark(doubles, replicas);
    await sleep(timing.idleSeconds * 1000);
    const idle = await phaseCost(doubles, replicas, cpu);
    log(`idle: own req/s ${JSON.stringify(idle.own)}`);

    // ---- Consul changes: health flips and registrations spread over the followed services.
    sampler.phase = 'changes';
    const loadAtChanges = loadavg()[0]!;
    cpu = await mark(doubles, replicas);
    const hotSet = new Set(hot);
    const targets = [...hot, ...cold];
    const added: Array<{ service: string; id: string; node: string }> = [];
    let serial = 0;
    const instancesOf = new Map<string, typeof w.instances[number][]>();
    for (const i of w.instances) (instancesOf.get(i.service) ?? instancesOf.set(i.service, []).get(i.service)!).push(i);
    const total = timing.changeSeconds * timing.changesPerSecond;
    const started = Date.now();
    const writes: Promise<void>[] = [];
    for (let n = 0; n < total; n++) {
      await sleep(Math.max(0, started + (n * 1000) / timing.changesPerSecond - Date.now()));
      const roll = (n * 7919) % 20;
      if (roll >= 17 && added.length > 0) {
        const k = added.findIndex((a) => !tracker.busy(a.service));
        if (k >= 0) {
          const [a] = added.splice(k, 1);
          writes.push(tracker.apply(doubles, { cmd: 'deregister', node: a!.node, id: a!.id }, { service: a!.service, kind: 'deregister', hot: hotSet.has(a!.service), matches: (es) => !es.some((e) => e.Service.ID === a!.id) }));
          continue;
        }
      }
      let service = targets[(n * 104_729) % targets.length]!;
      for (let step = 1; tracker.busy(service); step++) service = targets[(n * 104_729 + step) % targets.length]!;
      if (roll >= 14) {
        const id = `${service}-bench-${++serial}`;
        const node = `bench-node-${serial}`;
        added.push({ service, id, node });
        writes.push(tracker.apply(doubles, { cmd: 'register', service, id, node, address: `10.30.${serial >> 8}.${serial & 255}` }, { service, kind: 'register', hot: hotSet.has(service), matches: (es) => es.some((e) => e.Service.ID === id) }));
      } else {
        const list = instancesOf.get(service)!;
        const inst = list[n % list.length]!;
        const next = status.get(inst.id) === 'passing' ? 'critical' : 'passing';
        status.set(inst.id, next);
        writes.push(tracker.apply(doubles, { cmd: 'flip', node: inst.node, checkId: inst.checkId, status: next }, {
          service, kind: 'flip', hot: hotSet.has(service),
          matches: (es) => es.find((e) => e.Service.ID === inst.id)?.Checks.find((c) => c.CheckID === inst.checkId)?.Status === next,
        }));
      }
    }
    await Promise.all(writes);
    const changes = await phaseCost(doubles, replicas, cpu);
    await tracker.drain(10_000);
    const consul = tracker.take();
    log(`changes: requests by kind ${JSON.stringify(changes.doubles.consulByKind)}`);
    log(`changes: own req/s ${JSON.stringify(changes.own)}, callers ${JSON.stringify(changes.callers)}; ${consul.answer.length} answers, ${consul.missed} missed; connections ${JSON.stringify(sampler.max)}`);

    // ---- Kubernetes: a meshed caller gets ClusterIPs once its Sidecar lists them; then every
    // endpoint of a Service turns unready (answer: HAProxy) and ready again (answer: ClusterIP).
    sampler.phase = 'kube';
    const meshed = w.summary.meshedCallerIp!;
    const kubeTracker = new ChangeTracker(REPLICAS);
    const migrated = w.migrated.slice(0, KUBE_SERVICES);
    const gateUntil = Date.now() + 60_000;
    const gateStarted = Date.now();
    await Promise.all(replicas.map(async (r) => {
      const opts = { from: meshed, token: callerToken(r.name) };
      const open = new Set<string>();
      while (open.size < migrated.length) {
        for (const m of migrated) {
          if (open.has(m.service)) continue;
          const a = await get(r.http, `/v1/health/service/${m.service}`, opts);
          if (addressesOf(a).join() === m.clusterIP) {
            open.add(m.service);
            followers.push(new ServiceFollower(r.http, `/v1/health/service/${m.service}`, opts, a, (x) => kubeTracker.onAnswer(r.name, m.service, x)));
          } else if (Date.now() > gateUntil) {
            const why = await get(r.admin, `/v1/explain?service=${m.service}&from=${meshed}`);
            throw new Error(`${r.name}: no ClusterIP for ${m.service} within 60 s (${addressesOf(a).join()}): ${why.body.slice(0, 1500)}`);
          }
        }
        await sleep(200);
      }
    }));
    const gateMs = Date.now() - gateStarted;
    log(`kube: ClusterIPs handed out after ${gateMs} ms`);
    for (const ready of [false, true]) {
      for (const m of migrated) {
        await kubeTracker.apply(doubles, { cmd: 'endpoints', namespace: m.namespace, slice: m.slice, ready }, {
          service: m.service, kind: ready ? 'endpoints-ready' : 'endpoints-unready', hot: false,
          matches: (_es, a) => (addressesOf(a).join() === m.clusterIP) === ready,
        });
        await sleep(200);
      }
      await kubeTracker.drain(10_000);
    }
    const kube = kubeTracker.take();
    log(`kube: ${kube.answer.length} answers, ${kube.missed} missed`);

    const rss: Record<string, { rssMb: number; peakMb: number }> = {};
    for (const r of replicas) rss[r.name] = await rssOf(r.proc.pid!);
    return { readyMs, syncRequests, connections: sampler.max, idle, changes, sync, consul, kube, rss, doublesLoadMs: w.loadMs, doublesRssMb: w.rssMb, hotSeen, load: { start: loadAtStart, changes: loadAtChanges } };
  } catch (err) {
    for (const r of replicas) log(`${r.name} last log lines:\n${r.logs.slice(-10).join('\n')}`);
    throw err;
  } finally {
    sampler.stop();
    for (const f of followers) f.stop();
    await Promise.all(replicas.map((r) => r.stop()));
    await doubles.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
