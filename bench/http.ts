// Throughput of GET /v1/health/service/<svc> against a bare fastify returning a cached Buffer of
// the same body (the goal is >= 0.85 of it: a bare Node server answering from a byte cache is the ceiling).
//
// Method: each server runs as a child pinned to core 1 (`taskset -c 1`), wrk on core 0
// (`wrk -t1 -c64 -d<s>`). wrk cannot bind a source address, so the caller identity is chosen
// on the server side instead: the bench world makes 127.0.0.1 (wrk's source) a meshed Pod for the
// meshed runs and an unmeshed Pod for the others. Rounds alternate Discovery and bare fastify;
// ratios are taken within a round, medians reported. Loopback only; kills only its own children.
//
//   node --import tsx bench/http.ts [--rounds 3] [--seconds 5]

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchScript } from './node-script.ts';
import { parseArgs } from 'node:util';
import { request } from 'node:http';

export interface BenchResult {
  name: string;
  rows: Array<Record<string, string | number>>;
  notes: string[];
}

const PATH = '/v1/health/service/bench';

function hasCmd(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const PIN = hasCmd('taskset') && cpus().length >= 2;

function pinned(core: number, cmd: string, args: string[]): [string, string[]] {
  return PIN ? ['taskset', ['-c', String(core), cmd, ...args]] : [cmd, args];
}

export interface Child {
  proc: ChildProcess;
  port: number;
}

/** Starts bench/http-server.ts in `mode` on core 1 and waits for its port. */
export function startChild(args: string[], ipc = false): Promise<Child> {
  // BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the server under test.
  const extra = (process.env['BENCH_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  const [cmd, argv] = pinned(1, process.execPath, [...extra, ...benchScript('http-server.ts'), ...args]);
  const proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit', ...(ipc ? (['ipc'] as const) : [])], env: { ...process.env, TEST_LOG_LEVEL: 'silent' } });
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('server child did not start in 30 s')), 30_000);
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve({ proc, port: (JSON.parse(buf.slice(0, nl)) as { port: number }).port });
      }
    });
    proc.on('exit', (code) => reject(new Error(`server child exited with ${code}`)));
  });
}

export function stopChild(c: Child): Promise<void> {
  return new Promise((resolve) => {
    if (c.proc.exitCode !== null) return resolve();
    c.proc.once('exit', () => resolve());
    c.proc.kill('SIGTERM');
  });
}

function fetchBody(port: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: PATH }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks)));
    })
      .on('error', reject)
      .end();
  });
}

function wrk(port: number, seconds: number): number {
  const [cmd, args] = pinned(0, 'wrk', ['-t1', '-c64', `-d${seconds}s`, `http://127.0.0.1:${port}${PATH}`]);
  const out = execFileSync(cmd, args, { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!m) throw new Error(`cannot read wrk output:\n${out}`);
  if (/Non-2xx/.test(out)) throw new Error(`wrk saw errors:\n${out}`);
  return Number(m[1]);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export async function run(opts: { rounds?: number; seconds?: number } = {}): Promise<BenchResult> {
  const rounds = opts.rounds ?? 9;
  const seconds = opts.seconds ?? 2;
  if (!hasCmd('wrk')) return { name: 'http', rows: [], notes: ['wrk not installed: skipped'] };
  const dir = await mkdtemp(join(tmpdir(), 'discovery-bench-http-'));
  const rows: BenchResult['rows'] = [];
  try {
    for (const caller of ['unmeshed', 'meshed'] as const) {
      const disc: number[] = [];
      const bare: number[] = [];
      const ratios: number[] = [];
      // Both servers live through all rounds (each idle while the other is measured), and the
      // measurements alternate, so the machine's drift hits both sides of each ratio alike.
      const d = await startChild(['discovery', caller]);
      let b: Child | null = null;
      let bodyBytes = 0;
      try {
        const body = await fetchBody(d.port);
        bodyBytes = body.length;
        const bodyFile = join(dir, `body-${caller}.json`);
        await writeFile(bodyFile, body);
        b = await startChild(['bare', bodyFile]);
        // Warm-up: JIT and the answer cache.
        wrk(d.port, 1);
        wrk(b.port, 1);
        for (let r = 0; r < rounds; r++) {
          const first = r % 2 === 0;
          const x = first ? wrk(d.port, seconds) : wrk(b.port, seconds);
          const y = first ? wrk(b.port, seconds) : wrk(d.port, seconds);
          const [dRps, bRps] = first ? [x, y] : [y, x];
          disc.push(dRps);
          bare.push(bRps);
          ratios.push(dRps / bRps);
        }
      } finally {
        await stopChild(d);
        if (b) await stopChild(b);
      }
      rows.push({
        caller,
        'body bytes': bodyBytes,
        'discovery req/s (median)': Math.round(median(disc)),
        'bare fastify req/s (median)': Math.round(median(bare)),
        'ratio (median of per-round)': Number(median(ratios).toFixed(3)),
        'ratios per round': ratios.map((x) => x.toFixed(2)).join(' '),
        rounds,
      });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return {
    name: 'http',
    rows,
    notes: [
      `GET ${PATH}, wrk -t1 -c64 -d${seconds}s after a 1 s warm-up, ${rounds} rounds alternating the two servers (order swapped every round); ratio = Discovery / bare fastify returning a cached Buffer of the same body, within each round.`,
      PIN ? 'Server pinned to core 1 (taskset -c 1), wrk to core 0.' : 'taskset or a second core unavailable: not pinned (numbers are noisier).',
      'Caller identity is chosen server-side: the bench world makes 127.0.0.1 (wrk\'s source address) a meshed or an unmeshed Pod, since wrk cannot bind a source address.',
      'Unmeshed: 10 HAProxy instances as Consul has them. Meshed: the one synthetic ClusterIP instance.',
    ],
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { rounds: { type: 'string' }, seconds: { type: 'string' } } });
  const result = await run({ rounds: values.rounds ? Number(values.rounds) : undefined, seconds: values.seconds ? Number(values.seconds) : undefined });
  console.log(JSON.stringify(result, null, 2));
}
