// DNS benchmark: Discovery's DNS front end against BIND9 serving an equivalent `consul.` zone
// generated from the same world, in the same run, on loopback.
//
// World: bench/world-gen.ts, 2,000 services x 3 HAProxy instances, 25% migrated to the mesh.
// Queries: 48% A, 47% SRV, 5% NXDOMAIN, no EDNS, sent by two dnsperf processes at once, one bound
// to a meshed Pod's IP and one to an unmeshed Pod's IP, so Discovery answers both caller classes
// (BIND answers everyone the same; it cannot choose per caller).
// Each server runs pinned to core 1 (taskset -c 1; named -n 1), dnsperf on core 0. Three rounds;
// in each round every server/transport pair runs once; medians over rounds, ratios per round.
//
//   node --import tsx bench/dns.ts [--seconds 5] [--rounds 3]
// Kills only the children it started, by PID. Files live in a temp dir removed at the end.

import { spawn, type ChildProcess } from 'node:child_process';
import { benchScript } from './node-script.ts';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { generateWorld } from './world-gen.ts';
import { buildCatalog } from '../src/sources/consul/catalog-build.ts';
import { parseRegistrations } from '../src/sources/consul/registration-body.ts';
import { parseKubeSnapshot } from '../src/sources/kubernetes/snapshot-document.ts';
import type { ConsulCatalog } from '../src/world/consul-types.ts';
import type { KubeSnapshot } from '../src/world/kube-types.ts';

const run = promisify(execFile);
const WORLD = { services: 2000, instancesPerService: 3, workloads: 400, podsPerWorkload: 2, meshedFraction: 0.5, migratedFraction: 0.25, seed: 7 };
const SERVER_CORE = '1';
const CLIENT_CORE = '0';
/** Per dnsperf process; two run at once, so 4 clients and 100 queries in flight in total. */
const CLIENT_ARGS = (process.env['DNS_BENCH_CLIENT'] ?? '-c 2 -q 50').split(' ');

export interface BenchWorld {
  consul: ConsulCatalog;
  kube: KubeSnapshot;
  meshedIp: string;
  unmeshedIp: string;
}

export function benchWorld(): BenchWorld {
  const w = generateWorld(WORLD);
  const consul = buildCatalog(parseRegistrations(w.consulJson, 'bench'), 'dc1');
  const kube = parseKubeSnapshot(w.kubeYaml, 'bench').snapshot;
  if (!w.summary.meshedCallerIp || !w.summary.unmeshedCallerIp) throw new Error('world has no meshed/unmeshed caller');
  return { consul, kube, meshedIp: w.summary.meshedCallerIp, unmeshedIp: w.summary.unmeshedCallerIp };
}

/** The same data as a BIND zone: service A/SRV records and node A records, TTL 0. */
export function zoneText(consul: ConsulCatalog): string {
  const lines = ['$ORIGIN consul.', '$TTL 0', '@ IN SOA ns.consul. hostmaster.consul. 1 3600 600 86400 0', '@ IN NS ns.consul.', 'ns IN A 127.0.0.1'];
  for (const n of consul.nodes.values()) lines.push(`${n.Node}.node.dc1 IN A ${n.Address}`);
  for (const [key, svc] of consul.services) {
    for (const i of svc.instances) {
      lines.push(`${key}.service IN A ${i.service.Address || i.node.Address}`);
      lines.push(`${key}.service IN SRV 1 1 ${i.service.Port} ${i.node.Node}.node.dc1.consul.`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** dnsperf input: 48% A, 47% SRV, 5% NXDOMAIN over all services, deterministic. */
export function queryFile(consul: ConsulCatalog, count = 20_000): string {
  const names = [...consul.services.keys()];
  let seed = 12345;
  const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const r = random();
    const name = names[Math.floor(random() * names.length)]!;
    if (r < 0.48) out.push(`${name}.service.consul A`);
    else if (r < 0.95) out.push(`${name}.service.consul SRV`);
    else out.push(`nosuch-${i}.service.consul A`);
  }
  return `${out.join('\n')}\n`;
}

async function waitFor(port: number, name: string, tries = 100): Promise<void> {
  for (let i = 0; i < tries; i++) {
    try {
      const { stdout } = await run('/usr/bin/dig', ['@127.0.0.1', '-p', String(port), name, '+time=1', '+tries=1', '+short']);
      if (stdout.trim() !== '') return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`server on port ${port} did not answer ${name}`);
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return resolve();
    const t = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, 5000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    process.kill(child.pid, 'SIGTERM');
  });
}

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

async function startNamed(dir: string, consul: ConsulCatalog): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  await writeFile(join(dir, 'consul.zone'), zoneText(consul));
  const conf = `options {
  directory "${dir}";
  pid-file "${dir}/named.pid";
  session-keyfile "${dir}/session.key";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  minimal-responses no;
};
controls { };
zone "consul" { type primary; file "${dir}/consul.zone"; };
`;
  await writeFile(join(dir, 'named.conf'), conf);
  const child = spawn('taskset', ['-c', SERVER_CORE, '/usr/sbin/named', '-g', '-n', '1', '-c', join(dir, 'named.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  try {
    await waitFor(port, 'ns.consul');
  } catch (e) {
    await stop(child);
    throw new Error(`named did not start: ${String(e)}\n${err}`);
  }
  return { child, port };
}

async function startDiscovery(): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const child = spawn('taskset', ['-c', SERVER_CORE, process.execPath, ...benchScript('dns.ts'), '--serve', String(port)], { stdio: ['ignore', 'ignore', 'inherit'], cwd: resolve(import.meta.dirname, '..') });
  try {
    await waitFor(port, 'ns.node.dc1.consul', 1) .catch(() => undefined);
    await waitFor(port, 'svc-0001.service.consul', 150);
  } catch (e) {
    await stop(child);
    throw e;
  }
  return { child, port };
}

/** Two dnsperf processes (meshed and unmeshed source address) on the client core; summed queries/s. */
async function dnsperf(port: number, mode: 'udp' | 'tcp', queries: string, from: readonly string[], seconds: number): Promise<{ qps: number; lost: number }> {
  const one = (addr: string) =>
    run('taskset', ['-c', CLIENT_CORE, '/usr/bin/dnsperf', '-s', '127.0.0.1', '-p', String(port), '-a', addr, '-m', mode, '-d', queries, ...CLIENT_ARGS, '-l', String(seconds), '-t', '2'], { timeout: (seconds + 30) * 1000 });
  const outs = await Promise.all(from.map(one));
  let qps = 0;
  let lost = 0;
  for (const { stdout } of outs) {
    qps += Number(/Queries per second:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0);
    lost += Number(/Queries lost:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
  }
  return { qps, lost };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export async function run_(opts: { seconds?: number; rounds?: number } = {}): Promise<{ name: string; rows: Array<Record<string, string | number>>; notes: string[] }> {
  const seconds = opts.seconds ?? 5;
  const rounds = opts.rounds ?? 3;
  const world = benchWorld();
  const dir = await mkdtemp(join(tmpdir(), 'discovery-dns-bench-'));
  const queries = join(dir, 'queries.txt');
  await writeFile(queries, queryFile(world.consul));
  const from = [world.meshedIp, world.unmeshedIp];
  const children: ChildProcess[] = [];
  const results: Record<string, { bind: number[]; ours: number[]; ratio: number[]; lost: number[] }> = { udp: { bind: [], ours: [], ratio: [], lost: [] }, tcp: { bind: [], ours: [], ratio: [], lost: [] } };
  try {
    const named = await startNamed(dir, world.consul);
    children.push(named.child);
    const ours = await startDiscovery();
    children.push(ours.child);
    for (let r = 0; r < rounds; r++) {
      for (const mode of ['udp', 'tcp'] as const) {
        const b = await dnsperf(named.port, mode, queries, from, seconds);
        const d = await dnsperf(ours.port, mode, queries, from, seconds);
        results[mode]!.bind.push(b.qps);
        results[mode]!.ours.push(d.qps);
        results[mode]!.ratio.push(b.qps > 0 ? d.qps / b.qps : 0);
        results[mode]!.lost.push(d.lost);
      }
    }
  } finally {
    for (const c of children) await stop(c);
    await rm(dir, { recursive: true, force: true });
  }
  const rows = (['udp', 'tcp'] as const).map((mode) => {
    const x = results[mode]!;
    return {
      transport: mode,
      'BIND9 q/s (median)': Math.round(median(x.bind)),
      'Discovery q/s (median)': Math.round(median(x.ours)),
      'ratio (median of per-round ratios)': Number(median(x.ratio).toFixed(2)),
      'per-round ratios': x.ratio.map((v) => v.toFixed(2)).join(' / '),
      'Discovery queries lost': x.lost.reduce((a, b) => a + b, 0),
      goal: mode === 'udp' ? '≥ 0.8' : '≥ 0.5',
    };
  });
  const notes = [
    `World: ${WORLD.services} services x ${WORLD.instancesPerService} instances, ${WORLD.migratedFraction * 100}% migrated; queries 48% A / 47% SRV / 5% NXDOMAIN, no EDNS.`,
    `Two dnsperf processes (-c 4 -q 100 -l ${seconds}) at once, bound to a meshed (${world.meshedIp}) and an unmeshed (${world.unmeshedIp}) Pod IP; ${rounds} rounds.`,
    'Servers pinned to core 1 (BIND9: named -n 1; Discovery: one Node process), dnsperf to core 0; loopback only. Ratios are taken within each round.',
    'BIND9 serves a static zone from the same catalog (same A/SRV/glue, TTL 0); it cannot answer per caller, Discovery does (meshed callers get ClusterIPs for migrated services).',
  ];
  return { name: 'DNS: Discovery vs BIND9 (dnsperf, loopback)', rows, notes };
}

export { run_ as run };

/** Child mode: serve the bench world on 127.0.0.1:<port> until killed. */
async function serve(port: number): Promise<void> {
  const { testApp } = await import('../test/support/app.ts');
  const stateDir = await mkdtemp(join(tmpdir(), 'discovery-dns-bench-state-'));
  // Observations deduplicated in a Set, the way a recorder would keep them (Sidecar scoping off, so meshed callers get ClusterIPs at once).
  const seen = new Set<string>();
  const app = await testApp({
    world: benchWorld(),
    stateDir,
    config: { dnsAddr: `127.0.0.1:${port}` },
    observer: { observe: (o) => seen.add(`${o.caller.workload}>${o.service}`) },
    listen: true,
  });
  const shutdown = () => {
    void app.stop().then(() => rm(stateDir, { recursive: true, force: true })).finally(() => process.exit(0));
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { values } = parseArgs({ options: { serve: { type: 'string' }, seconds: { type: 'string' }, rounds: { type: 'string' } } });
  if (values.serve !== undefined) {
    serve(Number(values.serve)).catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
  } else {
    run_({ seconds: Number(values.seconds ?? 5), rounds: Number(values.rounds ?? 3) })
      .then((res) => {
        console.log(`## ${res.name}\n`);
        const cols = Object.keys(res.rows[0] ?? {});
        console.log(`| ${cols.join(' | ')} |\n|${cols.map(() => '---').join('|')}|`);
        for (const row of res.rows) console.log(`| ${cols.map((c) => row[c]).join(' | ')} |`);
        console.log(`\n${res.notes.map((n) => `- ${n}`).join('\n')}`);
      })
      .catch((err: unknown) => {
        console.error(err);
        process.exitCode = 1;
      });
  }
}
