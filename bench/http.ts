// Throughput of GET /v1/health/service/<svc> over 100 service names against a bare fastify returning
// a cached Buffer of the same body for each name (goal: >= 0.95 of it for unmeshed and meshed
// callers: a bare Node server answering from a byte cache is the ceiling).
//
// Method: each server runs as a child pinned to core 1 (`taskset -c 1`), wrk on core 0
// (`wrk -t1 -c64 -d<s>` with a Lua script cycling through the 100 paths). wrk cannot bind a source
// address, so the caller identity is chosen on the server side instead: the bench world makes
// 127.0.0.1 (wrk's source) a meshed Pod for the meshed runs and an unmeshed Pod for the others.
// Short slices alternate Discovery and bare fastify, order swapped every round; ratios are taken
// within a round, medians and spread reported. Each slice also reads the server's CPU time from
// /proc: when the server is not saturated (the client is the bottleneck), req/s compares the client,
// not the servers, and the CPU time per request is the fair comparison; both are reported, with
// how busy each server was. Loopback only; kills only its own children.
//
//   node --import tsx bench/http.ts [--rounds 9] [--seconds 2]

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, writeFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchScript } from './node-script.ts';
import { parseArgs } from 'node:util';
import { request } from 'node:http';
import { HEADERS_FILE, serviceNames } from './http-server.ts';

export interface BenchResult {
  name: string;
  rows: Array<Record<string, string | number>>;
  notes: string[];
}

const PREFIX = '/v1/health/service/';
const SERVICES = 100;

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

interface Answer {
  body: Buffer;
  /** Header lines as sent (names in their case, in order), without the ones Node adds itself. */
  headers: string[];
}

/** Written by Node's http server on every response; the bare server gets them from Node too. */
const NODE_HEADERS = new Set(['date', 'connection', 'keep-alive']);

function fetchAnswer(port: number, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path }, (res) => {
      const chunks: Buffer[] = [];
      const headers: string[] = [];
      for (let i = 0; i < res.rawHeaders.length; i += 2) {
        if (!NODE_HEADERS.has(res.rawHeaders[i]!.toLowerCase())) headers.push(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
      }
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ body: Buffer.concat(chunks), headers }));
    })
      .on('error', reject)
      .end();
  });
}

/** A wrk script sending the paths in turn, each request formatted once up front. */
function wrkScript(paths: readonly string[]): string {
  return `local paths = { ${paths.map((p) => `"${p}"`).join(', ')} }
local reqs = {}
local i = 0
init = function(args)
  for k, p in ipairs(paths) do reqs[k] = wrk.format("GET", p) end
end
request = function()
  i = i % #reqs + 1
  return reqs[i]
end
`;
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process (all threads), seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

interface Slice {
  rps: number;
  /** Server CPU per request, µs. */
  cpuUs: number;
  /** Server CPU seconds per wall second during the slice (1 = saturated). */
  busy: number;
}

function wrk(server: Child, script: string, seconds: number): Slice {
  const cpu0 = cpuSeconds(server.proc.pid!);
  const t0 = performance.now();
  const [cmd, args] = pinned(0, 'wrk', ['-t1', '-c64', `-d${seconds}s`, '-s', script, `http://127.0.0.1:${server.port}/`]);
  const out = execFileSync(cmd, args, { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
  const wall = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(server.proc.pid!) - cpu0;
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const n = /(\d+) requests in/.exec(out);
  if (!m || !n) throw new Error(`cannot read wrk output:\n${out}`);
  if (/Non-2xx/.test(out)) throw new Error(`wrk saw errors:\n${out}`);
  return { rps: Number(m[1]), cpuUs: (cpu * 1e6) / Number(n[1]), busy: cpu / wall };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const spread = (xs: number[]) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;

export async function run(opts: { rounds?: number; seconds?: number } = {}): Promise<BenchResult> {
  const rounds = opts.rounds ?? 9;
  const seconds = opts.seconds ?? 2;
  if (!hasCmd('wrk')) return { name: 'http', rows: [], notes: ['wrk not installed: skipped'] };
  const dir = await mkdtemp(join(tmpdir(), 'discovery-bench-http-'));
  const rows: BenchResult['rows'] = [];
  const names = serviceNames(SERVICES);
  const paths = names.map((n) => `${PREFIX}${n}`);
  const script = join(dir, 'paths.lua');
  await writeFile(script, wrkScript(paths));
  try {
    for (const caller of ['unmeshed', 'meshed'] as const) {
      const disc: Slice[] = [];
      const bare: Slice[] = [];
      const ratios: number[] = [];
      const cpuRatios: number[] = [];
      // Both servers live through all rounds (each idle while the other is measured), and the
      // measurements alternate, so the machine's drift hits both sides of each ratio alike.
      const d = await startChild(['discovery', caller, String(SERVICES)]);
      let b: Child | null = null;
      let bodyBytes: number[] = [];
      try {
        const bodyDir = join(dir, `bodies-${caller}`);
        await mkdir(bodyDir);
        const headers: Record<string, string[]> = {};
        for (const name of names) {
          const answer = await fetchAnswer(d.port, `${PREFIX}${name}`);
          bodyBytes.push(answer.body.length);
          headers[name] = answer.headers;
          await writeFile(join(bodyDir, name), answer.body);
        }
        await writeFile(join(bodyDir, HEADERS_FILE), JSON.stringify(headers));
        b = await startChild(['bare', bodyDir]);
        // Both servers must send the same bytes (Node's Date line apart) for every name.
        for (const name of names) {
          const [x, y] = [await fetchAnswer(d.port, `${PREFIX}${name}`), await fetchAnswer(b.port, `${PREFIX}${name}`)];
          if (!x.body.equals(y.body)) throw new Error(`bare server body for ${name} differs from Discovery's`);
          if (x.headers.join('\n') !== y.headers.join('\n')) throw new Error(`bare server headers for ${name} differ from Discovery's:\n${x.headers.join(' ')}\n${y.headers.join(' ')}`);
        }
        // Warm-up: JIT and the answer cache.
        wrk(d, script, 1);
        wrk(b, script, 1);
        for (let r = 0; r < rounds; r++) {
          const first = r % 2 === 0;
          const x = first ? wrk(d, script, seconds) : wrk(b, script, seconds);
          const y = first ? wrk(b, script, seconds) : wrk(d, script, seconds);
          const [ds, bs] = first ? [x, y] : [y, x];
          disc.push(ds);
          bare.push(bs);
          ratios.push(ds.rps / bs.rps);
          cpuRatios.push(bs.cpuUs / ds.cpuUs);
        }
      } finally {
        await stopChild(d);
        if (b) await stopChild(b);
      }
      bodyBytes = [...new Set([Math.min(...bodyBytes), Math.max(...bodyBytes)])];
      rows.push({
        caller,
        'body bytes': bodyBytes.join('–'),
        'discovery req/s (median)': Math.round(median(disc.map((s) => s.rps))),
        'bare fastify req/s (median)': Math.round(median(bare.map((s) => s.rps))),
        'req/s ratio (median of per-round)': Number(median(ratios).toFixed(3)),
        'req/s ratio spread': spread(ratios),
        'server busy (discovery / bare, median)': `${median(disc.map((s) => s.busy)).toFixed(2)} / ${median(bare.map((s) => s.busy)).toFixed(2)}`,
        'server CPU µs/req (discovery / bare, median)': `${median(disc.map((s) => s.cpuUs)).toFixed(1)} / ${median(bare.map((s) => s.cpuUs)).toFixed(1)}`,
        'CPU ratio bare ÷ discovery (median of per-round)': Number(median(cpuRatios).toFixed(3)),
        'CPU ratio spread': spread(cpuRatios),
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
      `GET ${PREFIX}<svc> over ${SERVICES} service names in turn (a wrk Lua script), wrk -t1 -c64 -d${seconds}s after a 1 s warm-up, ${rounds} rounds alternating the two servers (order swapped every round); ratios are taken within each round, medians and min–max reported.`,
      'Bare fastify answers each name with the same bytes as Discovery: the same header lines (X-Consul-*, Vary, Content-Type, Content-Length, X-Consul-Query-Backend, names in the same case and order, written in one writeHead) and a cached Buffer of the same body; Node adds Date, Connection and Keep-Alive to both. Checked equal for every name before the run.',
      'req/s ratio = Discovery ÷ bare. CPU ratio = bare CPU per request ÷ Discovery CPU per request (server utime+stime from /proc over the slice): the capacity ratio, which stays fair when a server is not saturated ("server busy" < 1 means the client, not that server, set the pace).',
      PIN ? 'Server pinned to core 1 (taskset -c 1), wrk to core 0.' : 'taskset or a second core unavailable: not pinned (numbers are noisier).',
      "Caller identity is chosen server-side: the bench world makes 127.0.0.1 (wrk's source address) a meshed or an unmeshed Pod, since wrk cannot bind a source address.",
      'Unmeshed: 10 HAProxy instances per service as Consul has them. Meshed: the one synthetic ClusterIP instance.',
    ],
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { rounds: { type: 'string' }, seconds: { type: 'string' } } });
  const result = await run({ rounds: values.rounds ? Number(values.rounds) : undefined, seconds: values.seconds ? Number(values.seconds) : undefined });
  console.log(JSON.stringify(result, null, 2));
}
