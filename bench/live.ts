// Live mode at fleet scale: two `discovery serve` replicas in front of the Consul agent double and
// the Kubernetes API double (2,000 services / 6,000 instances / 20,000 Pods, run in their own
// process: bench/live-doubles.ts). Measures, per replica: connections held to the upstream Consul,
// upstream requests/s idle and under 10 changes/s, change-to-answer latency (Consul and
// Kubernetes changes, seen by blocking HTTP clients), start to ready, RSS. Loopback only; stops
// only the processes it started, by PID. Goals: ≤ 64 connections, < 1 request/s idle,
// p99 ≤ 2 s, ready < 10 s, RSS < 400 MB.
//
//   npm run bench -- live            (compiled; writes bench/RESULTS.partial.md)
//   node --import tsx bench/live.ts  (from source; prints the result as JSON)
// LIVE_RUNS, LIVE_IDLE_S, LIVE_CHANGE_S shorten it while working on it.

import { pathToFileURL } from 'node:url';
import { percentile } from './live-changes.ts';
import { HOT, COLD, KUBE_SERVICES, REPLICAS, runOnce, type RunResult } from './live-run.ts';
import { WORLD } from './live-doubles.ts';

export interface BenchResult {
  name: string;
  rows: Array<Record<string, string | number>>;
  notes: string[];
}

const envNumber = (key: string, fallback: number) => {
  const v = Number(process.env[key]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};

function median(xs: readonly number[]): number {
  const s = [...xs].filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)]!;
}

const fmt = (x: number, digits = 0) => (Number.isNaN(x) ? '—' : x.toFixed(digits));

/** "median (min–max)" over runs. */
function spread(xs: readonly number[], digits = 0): string {
  const ok = xs.filter((x) => !Number.isNaN(x));
  if (ok.length === 0) return '—';
  return `${fmt(median(ok), digits)} (${fmt(Math.min(...ok), digits)}–${fmt(Math.max(...ok), digits)})`;
}

function rows(runs: readonly RunResult[]): BenchResult['rows'] {
  const out: BenchResult['rows'] = [];
  const row = (measure: string, goal: string, per: (r: RunResult, replica: string) => number, digits = 0) => {
    const cells: Record<string, string | number> = { measure, goal };
    for (const name of REPLICAS) cells[`${name}: median (min–max of ${runs.length} runs)`] = spread(runs.map((r) => per(r, name)), digits);
    cells['per run'] = runs.map((r) => REPLICAS.map((n) => fmt(per(r, n), digits)).join('/')).join(', ');
    out.push(cells);
  };
  const times = (r: RunResult, kind: 'consul' | 'kube') => r[kind];
  row('start to ready (/readyz 200), ms', '< 10000', (r, n) => r.readyMs[n]!);
  row('upstream connections, most seen during first sync (double side)', '≤ 64', (r, n) => r.connections.sync?.[n]?.[0] ?? NaN);
  row('upstream connections, most seen idle (double side)', '≤ 64', (r, n) => r.connections.idle?.[n]?.[0] ?? NaN);
  row('upstream connections, most seen under changes (double side)', '≤ 64', (r, n) => r.connections.changes?.[n]?.[0] ?? NaN);
  row('upstream connections, most seen under changes (ss -tnp)', '≤ 64', (r, n) => r.connections.changes?.[n]?.[1] ?? NaN);
  row('… of which the catalog source + control key (its /readyz)', '≤ 64', (r, n) => r.connections.changes?.[n]?.[2] ?? NaN);
  row('upstream requests in the first sync', '', (r, n) => r.syncRequests[n]!);
  row('upstream requests/s idle (own token)', '< 1', (r, n) => r.idle.own[n]!, 3);
  row('upstream requests/s idle (callers\' ACL checks)', '', (r, n) => r.idle.callers[n]!, 3);
  row('upstream requests/s under 10 changes/s (own token)', '', (r, n) => r.changes.own[n]!, 1);
  row('upstream requests/s under 10 changes/s (callers\' ACL checks)', '', (r, n) => r.changes.callers[n]!, 1);
  row('replica CPU % idle', '', (r, n) => r.idle.replicaCpu[n]!, 1);
  row('replica CPU % under 10 changes/s', '', (r, n) => r.changes.replicaCpu[n]!, 1);
  // Latencies are pooled over both replicas within a run (one row), medians across runs.
  const lat = (measure: string, goal: string, pick: (r: RunResult) => number[], p: number) => {
    const per = runs.map((r) => percentile(pick(r), p));
    out.push({ measure, goal, [`${REPLICAS[0]}: median (min–max of ${runs.length} runs)`]: `${spread(per)} (both replicas)`, 'per run': per.map((x) => fmt(x)).join(', ') });
  };
  lat('Consul change → blocking query woken, p50 ms', '', (r) => times(r, 'consul').woken, 50);
  lat('Consul change → blocking query woken, p99 ms', '≤ 2000', (r) => times(r, 'consul').woken, 99);
  lat('Consul change → answer shows it, p50 ms', '', (r) => times(r, 'consul').answer, 50);
  lat('Consul change → answer shows it, p99 ms', '≤ 2000', (r) => times(r, 'consul').answer, 99);
  lat('… hot services only, p99 ms', '≤ 2000', (r) => times(r, 'consul').answerHot, 99);
  lat('… other services only, p99 ms', '≤ 2000', (r) => times(r, 'consul').answerCold, 99);
  lat('Kubernetes change → answer moves, p50 ms', '', (r) => times(r, 'kube').answer, 50);
  lat('Kubernetes change → answer moves, p99 ms', '≤ 2000', (r) => times(r, 'kube').answer, 99);
  row('changes never seen (of those sent × 2 replicas)', '0', (r) => r.consul.missed + r.kube.missed);
  row('RSS at the end, MB', '< 400', (r, n) => r.rss[n]!.rssMb);
  row('peak RSS (VmHWM), MB', '< 400', (r, n) => r.rss[n]!.peakMb);
  return out;
}

function doublesNotes(runs: readonly RunResult[]): string {
  const cpu = (pick: (r: RunResult) => { cpuSeconds: number; sinceMs: number }) => spread(runs.map((r) => (100 * pick(r).cpuSeconds) / (pick(r).sinceMs / 1000)), 1);
  return (
    `Doubles' cost (their own process): CPU % of one core during first sync ${cpu((r) => r.sync.doubles)}, idle ${cpu((r) => r.idle.doubles)}, ` +
    `under changes ${cpu((r) => r.changes.doubles)}; event-loop delay p99 under changes ${spread(runs.map((r) => r.changes.doubles.loopP99Ms), 1)} ms ` +
    `(max ${spread(runs.map((r) => r.changes.doubles.loopMaxMs), 0)} ms); RSS ${spread(runs.map((r) => r.changes.doubles.rssMb))} MB; ` +
    `world loaded into them in ${spread(runs.map((r) => r.doublesLoadMs))} ms. Kubernetes API requests/s (both replicas) idle ${spread(runs.map((r) => r.idle.kubePerSecond), 2)}.`
  );
}

function byKindNote(runs: readonly RunResult[]): string {
  const pooled: Record<string, number[]> = {};
  for (const r of runs) for (const [k, xs] of Object.entries(r.consul.byKind)) (pooled[k] ??= []).push(...xs);
  return Object.entries(pooled).sort().map(([k, xs]) => `${k} ${fmt(percentile(xs, 50))} / ${fmt(percentile(xs, 99))} (${xs.length})`).join('; ');
}

function kindsNote(runs: readonly RunResult[]): string {
  const total = (r: RunResult) => Object.values(r.changes.doubles.consulByKind).reduce((a, b) => a + b, 0);
  const mid = [...runs].sort((a, b) => total(a) - total(b))[Math.floor(runs.length / 2)]!;
  const secs = mid.changes.doubles.sinceMs / 1000;
  return Object.entries(mid.changes.doubles.consulByKind).map(([k, n]) => `${k} ${(n / secs).toFixed(1)}/s`).join(', ');
}

export async function run(): Promise<BenchResult> {
  const timing = { idleSeconds: envNumber('LIVE_IDLE_S', 60), changeSeconds: envNumber('LIVE_CHANGE_S', 20), changesPerSecond: 10 };
  const count = envNumber('LIVE_RUNS', 3);
  const runs: RunResult[] = [];
  for (let i = 1; i <= count; i++) {
    console.error(`live: run ${i}/${count}`);
    runs.push(await runOnce(timing, (m) => console.error(`live ${i}: ${m}`)));
  }
  const samples = (k: 'consul' | 'kube') => runs.map((r) => r[k].answer.length).join('/');
  return {
    name: 'Live mode: two replicas against the Consul and Kubernetes doubles',
    rows: rows(runs),
    notes: [
      `World: ${WORLD.services} services × ${WORLD.instancesPerService} HAProxy instances (one Consul node each), ${WORLD.workloads} workloads × ${WORLD.podsPerWorkload} Pods, ${WORLD.migratedFraction * 100}% of services migrated (Service + EndpointSlice); ACLs on, each replica with its own token.`,
      `Two \`discovery serve\` replicas (compiled JS, default live knobs: 64 connections, 48 hot watches, 5 min watch wait) started together; the doubles run in a third process. ${runs.length} runs, each with fresh doubles and replicas.`,
      `Connections: highest count per phase, sampled every second; "double side" = the double's open sockets whose client port belongs to the replica's PID (\`ss -tnp\`), "ss" = the replica's own established sockets to the double's port.`,
      `Requests/s: counted by the double per token (each replica's own token; the callers' tokens, used only by the replicas' ACL checks); idle = ${timing.idleSeconds} s with nothing changing, after the first sync and after the hot set was in place.`,
      `Changes: ${timing.changesPerSecond}/s for ${timing.changeSeconds} s (70% check flips, 15% new instances, 15% removals) over ${HOT} hot services (looked up 6× more) and ${COLD} others, each followed by a blocking query (\`?index&wait=5m\`) per replica; latency = the double's write time → the client's receipt. Samples per run (change × replica): ${samples('consul')}.`,
      `Kubernetes: a meshed caller first gets ClusterIPs of ${KUBE_SERVICES} migrated services (Sidecar written, default 3 s propagation delay), then every endpoint of each turns unready (answer: HAProxy) and ready again (answer: ClusterIP); samples per run: ${samples('kube')}.`,
      `Requests to the double by kind during the changes phase (both replicas, median run by count): ${kindsNote(runs)}.`,
      `Consul change → answer by kind of change, p50 / p99 ms (samples of all runs pooled): ${byKindNote(runs)}.`,
      doublesNotes(runs),
      `Machine load (1-min load average on 2 cores; 4 of the processes here are the bench's own) at each run's start / at its changes phase: ${runs.map((r) => `${r.load.start.toFixed(1)} / ${r.load.changes.toFixed(1)}`).join(', ')}.`,
    ],
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await run();
  console.log(JSON.stringify(r, null, 2));
}
