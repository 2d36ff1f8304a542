// DNS benchmark: Discovery's DNS front end against BIND9 serving an equivalent `consul.` zone
// generated from the same world, in the same run, on loopback.
//
// World: bench/world-gen.ts, 2,000 services x 3 HAProxy instances, 25% migrated to the mesh.
// Queries: 47.5% A, 47.5% SRV, 5% NXDOMAIN, no EDNS. Load shapes (SHAPES): one dnsperf from an
// unmeshed Pod's IP, one from a meshed Pod's IP, both at once (mixed), and mixed over TCP; BIND
// answers everyone the same (it cannot choose per caller), Discovery answers per caller class.
// Each server runs pinned to core 1 (taskset -c 1; named -n 1), dnsperf on core 0. Short slices
// interleaved: in each round every shape runs on both servers back to back, order swapped every
// round; ratios within a round, medians and spread over rounds.
//
//   node --import tsx bench/dns.ts [--seconds 2] [--rounds 5] [--shapes unmeshed,meshed,mixed,tcp]
// Kills only the children it started, by PID. Files live in a temp dir removed at the end.

import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { benchScript } from './node-script.ts';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { execFile, execFileSync } from 'node:child_process';
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

/** dnsperf input: 47.5% A, 47.5% SRV, 5% NXDOMAIN over all services, deterministic. */
export function queryFile(consul: ConsulCatalog, count = 20_000): string {
  const names = [...consul.services.keys()];
  let seed = 12345;
  const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const r = random();
    const name = names[Math.floor(random() * names.length)]!;
    if (r < 0.475) out.push(`${name}.service.consul A`);
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
  // BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the server under test.
  const extra = (process.env['BENCH_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  const child = spawn('taskset', ['-c', SERVER_CORE, process.execPath, ...extra, ...benchScript('dns.ts'), '--serve', String(port)], { stdio: ['ignore', 'ignore', 'inherit'], cwd: resolve(import.meta.dirname, '..') });
  try {
    await waitFor(port, 'ns.node.dc1.consul', 1) .catch(() => undefined);
    await waitFor(port, 'svc-0001.service.consul', 150);
  } catch (e) {
    await stop(child);
    throw e;
  }
  return { child, port };
}

/** One load shape: which caller addresses send, with which dnsperf client options, over which transport. */
interface Shape {
  readonly key: string;
  readonly label: string;
  readonly mode: 'udp' | 'tcp';
  readonly from: ReadonlyArray<'meshed' | 'unmeshed'>;
  /** dnsperf options per process; the processes run at once. */
  readonly client: readonly string[];
  readonly goal: string;
}

const SHAPES: readonly Shape[] = [
  { key: 'unmeshed', label: 'UDP, one unmeshed source', mode: 'udp', from: ['unmeshed'], client: ['-c', '4', '-q', '100'], goal: '≥ 0.85 of BIND9' },
  { key: 'meshed', label: 'UDP, one meshed source', mode: 'udp', from: ['meshed'], client: ['-c', '4', '-q', '100'], goal: 'see the row below' },
  { key: 'mixed', label: 'UDP, mixed (meshed + unmeshed)', mode: 'udp', from: ['meshed', 'unmeshed'], client: ['-c', '2', '-q', '50'], goal: '≥ 0.85 of BIND9' },
  { key: 'tcp', label: 'TCP, mixed (meshed + unmeshed)', mode: 'tcp', from: ['meshed', 'unmeshed'], client: ['-c', '2', '-q', '50'], goal: '≥ 2 × BIND9' },
];

interface Slice {
  qps: number;
  lost: number;
  /** Average response size dnsperf saw (bytes). */
  response: number;
  /** Server CPU time (user + system, all threads) per completed query, µs: what a query costs the server, busy or not. */
  cpuUs: number;
}

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** utime + stime of a process (all its threads), in seconds. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** The shape's dnsperf processes at once, on the client core; queries/s summed, response size averaged. */
async function dnsperf(server: { port: number; child: ChildProcess }, shape: Shape, queries: string, ips: Record<'meshed' | 'unmeshed', string>, seconds: number): Promise<Slice> {
  const port = server.port;
  const cpuBefore = await cpuSeconds(server.child.pid!);
  const one = (addr: string) =>
    run('taskset', ['-c', CLIENT_CORE, '/usr/bin/dnsperf', '-s', '127.0.0.1', '-p', String(port), '-a', addr, '-m', shape.mode, '-d', queries, ...shape.client, '-l', String(seconds), '-t', '2'], { timeout: (seconds + 30) * 1000 });
  const outs = await Promise.all(shape.from.map((kind) => one(ips[kind])));
  const cpu = (await cpuSeconds(server.child.pid!)) - cpuBefore;
  let qps = 0;
  let lost = 0;
  let response = 0;
  let completed = 0;
  for (const { stdout } of outs) {
    completed += Number(/Queries completed:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
    qps += Number(/Queries per second:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0);
    lost += Number(/Queries lost:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
    response += Number(/response\s+(\d+)/.exec(stdout)?.[1] ?? 0) / outs.length;
  }
  return { qps, lost, response, cpuUs: completed > 0 ? (cpu * 1e6) / completed : 0 };
}

/** Size and section counts of one reply, no EDNS, asked from `from` (so Discovery answers that caller class). */
function replySize(port: number, name: string, qtype: number, from: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    const labels = name.split('.').filter(Boolean);
    const q = Buffer.alloc(12 + labels.reduce((n, l) => n + l.length + 1, 1) + 4);
    q.writeUInt16BE(0x1234, 0);
    q.writeUInt16BE(0x0100, 2);
    q.writeUInt16BE(1, 4);
    let off = 12;
    for (const l of labels) {
      q[off++] = l.length;
      off += q.write(l, off, 'latin1');
    }
    q[off++] = 0;
    q.writeUInt16BE(qtype, off);
    q.writeUInt16BE(1, off + 2);
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error(`no reply from port ${port} for ${name}`));
    }, 3000);
    sock.on('message', (msg) => {
      clearTimeout(timer);
      sock.close();
      resolve(`${msg.length} B (${msg.readUInt16BE(6)} answers, ${msg.readUInt16BE(8)} authority, ${msg.readUInt16BE(10)} additional)`);
    });
    sock.bind(0, from, () => sock.send(q, port, '127.0.0.1'));
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const spread = (xs: number[]) => (xs.length === 0 ? '' : `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`);

export async function run_(opts: { seconds?: number; rounds?: number; shapes?: readonly string[] } = {}): Promise<{ name: string; rows: Array<Record<string, string | number>>; notes: string[] }> {
  const seconds = opts.seconds ?? 2;
  const rounds = opts.rounds ?? 5;
  const shapes = SHAPES.filter((s) => !opts.shapes || opts.shapes.includes(s.key));
  const world = benchWorld();
  const ips = { meshed: world.meshedIp, unmeshed: world.unmeshedIp };
  const dir = await mkdtemp(join(tmpdir(), 'discovery-dns-bench-'));
  const queries = join(dir, 'queries.txt');
  await writeFile(queries, queryFile(world.consul));
  const children: ChildProcess[] = [];
  const results = new Map(shapes.map((s) => [s.key, { bind: [] as Slice[], ours: [] as Slice[], ratio: [] as number[] }]));
  const sizes: Array<Record<string, string | number>> = [];
  try {
    const named = await startNamed(dir, world.consul);
    children.push(named.child);
    const ours = await startDiscovery();
    children.push(ours.child);
    // Warm-up: JIT and every answer cache entry, on both servers, before anything is measured.
    for (const shape of shapes) {
      await dnsperf(named, shape, queries, ips, 1);
      await dnsperf(ours, shape, queries, ips, 1);
    }
    // Interleaved short slices: in each round every shape runs on both servers back to back, the
    // order swapped every round, so the machine's drift lands on both sides of each ratio.
    for (let r = 0; r < rounds; r++) {
      for (const shape of shapes) {
        const bindFirst = r % 2 === 0;
        const first = await dnsperf(bindFirst ? named : ours, shape, queries, ips, seconds);
        const second = await dnsperf(bindFirst ? ours : named, shape, queries, ips, seconds);
        const [b, d] = bindFirst ? [first, second] : [second, first];
        const x = results.get(shape.key)!;
        x.bind.push(b);
        x.ours.push(d);
        x.ratio.push(b.qps > 0 ? d.qps / b.qps : 0);
      }
    }
    for (const [label, name, qtype] of [['SRV, 3 instances', 'svc-0001.service.consul', 33], ['A, 3 instances', 'svc-0001.service.consul', 1]] as const) {
      sizes.push({
        reply: `${label} (${name})`,
        'BIND9 bytes': await replySize(named.port, name, qtype, world.unmeshedIp),
        'Discovery bytes (unmeshed caller)': await replySize(ours.port, name, qtype, world.unmeshedIp),
      });
    }
  } finally {
    for (const c of children) await stop(c);
    await rm(dir, { recursive: true, force: true });
  }
  const rows: Array<Record<string, string | number>> = shapes.map((shape) => {
    const x = results.get(shape.key)!;
    return {
      shape: shape.label,
      'BIND9 q/s (median)': Math.round(median(x.bind.map((s) => s.qps))),
      'Discovery q/s (median)': Math.round(median(x.ours.map((s) => s.qps))),
      'ratio (median of per-round)': Number(median(x.ratio).toFixed(2)),
      'ratio spread (min–max)': spread(x.ratio),
      'per-round ratios': x.ratio.map((v) => v.toFixed(2)).join(' / '),
      'server CPU µs/query (BIND9 / Discovery, median)': `${median(x.bind.map((s) => s.cpuUs)).toFixed(1)} / ${median(x.ours.map((s) => s.cpuUs)).toFixed(1)}`,
      'avg response B (BIND9 / Discovery)': `${Math.round(median(x.bind.map((s) => s.response)))} / ${Math.round(median(x.ours.map((s) => s.response)))}`,
      'Discovery queries lost': x.ours.reduce((a, s) => a + s.lost, 0),
      goal: shape.goal,
    };
  });
  const un = results.get('unmeshed');
  const me = results.get('meshed');
  if (un && me) {
    const perRound = me.ours.map((s, i) => s.qps / un.ours[i]!.qps);
    rows.push({
      shape: 'Discovery meshed ÷ Discovery unmeshed (same server, same round)',
      'BIND9 q/s (median)': '',
      'Discovery q/s (median)': '',
      'ratio (median of per-round)': Number(median(perRound).toFixed(2)),
      'ratio spread (min–max)': spread(perRound),
      'per-round ratios': perRound.map((v) => v.toFixed(2)).join(' / '),
      'server CPU µs/query (BIND9 / Discovery, median)': '',
      'avg response B (BIND9 / Discovery)': '',
      'Discovery queries lost': '',
      goal: '≥ 0.95',
    });
  }
  const notes = [
    `World: ${WORLD.services} services x ${WORLD.instancesPerService} instances, ${WORLD.migratedFraction * 100}% migrated; queries 47.5% A / 47.5% SRV / 5% NXDOMAIN over every service, no EDNS.`,
    `Shapes: one dnsperf -c 4 -q 100 bound to the unmeshed (${world.unmeshedIp}) or the meshed (${world.meshedIp}) Pod IP; mixed = two dnsperf -c 2 -q 50 at once, one from each. ${rounds} rounds of ${seconds} s slices after a 1 s warm-up slice per server and shape; in every round each shape runs on both servers back to back, order swapped every round; ratios are taken within a round, medians and min–max over rounds.`,
    'Servers pinned to core 1 (BIND9 9.18: named -n 1; Discovery: one Node process), dnsperf to core 0; loopback only.',
    'BIND9 serves a static zone from the same catalog (same A/SRV/glue, TTL 0); it cannot answer per caller, Discovery does (meshed callers get ClusterIPs for migrated services).',
    `Reply sizes, no EDNS, unmeshed caller: ${sizes.map((s) => `${String(s['reply'])}: BIND9 ${String(s['BIND9 bytes'])}, Discovery ${String(s['Discovery bytes (unmeshed caller)'])}`).join('; ')}.`,
    "Why they differ: as Consul does, Discovery does not compress SRV target names (RFC 2782) and adds each node's meta as TXT records beside the target's A record, so its untrimmed SRV answer for 3 instances is over 512 bytes and Consul's UDP trimming silently keeps fewer SRV records (no TC bit, as Consul by default); BIND9 compresses the targets, keeps all 3 and adds the NS record and its glue (minimal-responses no). Per SRV record, Discovery sends more bytes than BIND9.",
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
  const { values } = parseArgs({ options: { serve: { type: 'string' }, seconds: { type: 'string' }, rounds: { type: 'string' }, shapes: { type: 'string' } } });
  if (values.serve !== undefined) {
    serve(Number(values.serve)).catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
  } else {
    run_({ seconds: Number(values.seconds ?? 2), rounds: Number(values.rounds ?? 5), ...(values.shapes ? { shapes: values.shapes.split(',') } : {}) })
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
