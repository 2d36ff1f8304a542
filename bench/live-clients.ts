// The client side of the live-mode benchmark: Discovery replicas as child processes, HTTP requests
// from a caller's own loopback address, blocking queries that follow one service on one replica,
// the doubles' process over IPC, and counts of the sockets each replica holds to the upstream.

import { execFile, fork, spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../test/support/process.ts';
import type { DoublesCommand, DoublesReady } from './live-doubles.ts';
import { benchScript, COMPILED, discoveryCli } from './node-script.ts';

const execFileP = promisify(execFile);

export interface Answer {
  readonly status: number;
  readonly index: number;
  readonly body: string;
  /** Date.now() when the whole body had arrived. */
  readonly at: number;
}

/** One GET from `from` (a caller's address), a fresh socket each time (no pooling between callers). */
export function get(base: string, path: string, opts: { from?: string; token?: string; timeoutMs?: number } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL(path, base), { headers: opts.token ? { 'X-Consul-Token': opts.token } : {}, agent: false, ...(opts.from ? { localAddress: opts.from } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, index: Number(res.headers['x-consul-index'] ?? 0), body: Buffer.concat(chunks).toString('utf8'), at: Date.now() }));
      res.on('error', reject);
    });
    const timeoutMs = opts.timeoutMs ?? 20_000;
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export interface HealthEntry {
  readonly Node: { readonly Address: string };
  readonly Service: { readonly ID: string; readonly Address: string };
  readonly Checks: ReadonlyArray<{ readonly CheckID: string; readonly Status: string }>;
}

export const entriesOf = (a: Answer): HealthEntry[] => JSON.parse(a.body) as HealthEntry[];
export const addressesOf = (a: Answer): string[] => entriesOf(a).map((e) => e.Service.Address || e.Node.Address).sort();

/**
 * Follows one service on one replica with blocking queries (`?index=N&wait=5m`) until stopped,
 * handing every answer to `onAnswer`; the next query is parked at once with the answer's index.
 */
export class ServiceFollower {
  #stopped = false;
  #index = 0;
  readonly done: Promise<void>;

  constructor(base: string, path: string, opts: { from: string; token: string }, first: Answer, onAnswer: (a: Answer) => void) {
    this.#index = first.index;
    this.done = (async () => {
      while (!this.#stopped) {
        const sep = path.includes('?') ? '&' : '?';
        let a: Answer;
        try {
          a = await get(base, `${path}${sep}index=${this.#index}&wait=5m`, { ...opts, timeoutMs: 330_000 });
        } catch (err) {
          if (this.#stopped) return;
          throw err;
        }
        if (this.#stopped) return;
        if (a.status !== 200) throw new Error(`${path} on ${base}: ${a.status} ${a.body.slice(0, 200)}`);
        this.#index = a.index;
        onAnswer(a);
      }
    })();
    this.done.catch(() => undefined);
  }

  stop(): void {
    this.#stopped = true;
  }
}

// ---- the doubles' process --------------------------------------------------------------------

export interface Doubles {
  readonly proc: ChildProcess;
  readonly ready: DoublesReady;
  ask<T = { at: number }>(cmd: DoublesCommand): Promise<T>;
  stop(): Promise<void>;
}

export async function startDoubles(dir: string, replicas: readonly string[]): Promise<Doubles> {
  const node = benchScript('live-doubles.ts');
  // BENCH_DOUBLES_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the doubles.
  const extra = (process.env['BENCH_DOUBLES_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  const proc = fork(node[node.length - 1]!, [dir, replicas.join(',')], { execArgv: [...extra, ...node.slice(0, -1)], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let seq = 0;
  const ready = await new Promise<DoublesReady>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the doubles did not start within 120 s')), 120_000);
    proc.on('message', (m: { type: string; seq?: number; error?: string }) => {
      if (m.type === 'ready') {
        clearTimeout(timer);
        resolve(m as unknown as DoublesReady);
      } else if (m.type === 'reply' && m.seq !== undefined) {
        const p = pending.get(m.seq);
        pending.delete(m.seq);
        if (m.error) p?.reject(new Error(`doubles: ${m.error}`));
        else p?.resolve(m);
      }
    });
    proc.once('exit', (code) => reject(new Error(`the doubles exited with ${code}`)));
  });
  const ask = <T>(cmd: DoublesCommand): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const n = ++seq;
      pending.set(n, { resolve: resolve as (v: unknown) => void, reject });
      proc.send({ ...cmd, seq: n });
    });
  return {
    proc,
    ready,
    ask,
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      proc.send({ cmd: 'exit', seq: ++seq });
      await exited;
      clearTimeout(timer);
    },
  };
}

// ---- replicas --------------------------------------------------------------------------------

export interface ReplicaProcess {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly http: string;
  readonly admin: string;
  /** Date.now() at spawn. */
  readonly startedAt: number;
  readonly logs: string[];
  stop(): Promise<void>;
}

export async function startReplica(name: string, flags: Record<string, string>): Promise<ReplicaProcess> {
  const [http, dns, admin] = [await freePort(), await freePort(), await freePort()];
  const args = ['serve', '--http-addr', `127.0.0.1:${http}`, '--dns-addr', `127.0.0.1:${dns}`, '--admin-addr', `127.0.0.1:${admin}`, '--replica-id', name];
  for (const [k, v] of Object.entries(flags)) args.push(`--${k}`, v);
  const extra = (process.env['BENCH_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  const startedAt = Date.now();
  const proc = spawn(process.execPath, [...extra, ...discoveryCli(), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DISCOVERY_LOG_LEVEL: 'warn', ...(COMPILED ? {} : { DISCOVERY_FROM_SOURCE: '1' }) },
  });
  const logs: string[] = [];
  const keep = (d: Buffer) => {
    logs.push(...d.toString().split('\n').filter(Boolean));
    if (logs.length > 2000) logs.splice(0, logs.length - 2000);
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  return {
    name,
    proc,
    http: `http://127.0.0.1:${http}`,
    admin: `http://127.0.0.1:${admin}`,
    startedAt,
    logs,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      proc.kill('SIGTERM');
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls /readyz every 50 ms; the ms from spawn to the first 200. */
export async function readyAfter(r: ReplicaProcess, limitMs = 120_000): Promise<number> {
  for (;;) {
    if (r.proc.exitCode !== null) throw new Error(`${r.name} exited with ${r.proc.exitCode}:\n${r.logs.slice(-20).join('\n')}`);
    const a = await get(r.admin, '/readyz', { timeoutMs: 5000 }).catch(() => null);
    if (a?.status === 200) return a.at - r.startedAt;
    if (Date.now() - r.startedAt > limitMs) throw new Error(`${r.name} not ready within ${limitMs} ms: ${a?.body ?? 'no answer'}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

export async function rssOf(pid: number): Promise<{ rssMb: number; peakMb: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rssMb: Math.round(kb('VmRSS') / 1024), peakMb: Math.round(kb('VmHWM') / 1024) };
}

/** CPU seconds (user + system) a process has used so far. */
export async function cpuSecondsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

// ---- connections -----------------------------------------------------------------------------

/**
 * Established sockets to the upstream port, per client PID: from the kernel (`ss -tnp`, the
 * client's end) and from the double (the client ports of the connections it holds open, matched
 * to PIDs through the same `ss` listing). Ports the listing cannot place are counted as 'other'.
 */
export async function connectionsByPid(port: number, doublePorts: readonly number[]): Promise<{ kernel: Map<number, number>; double: Map<number | 'other', number> }> {
  const { stdout } = await execFileP('ss', ['-tnpH', 'state', 'established', `( dport = :${port} )`]);
  const pidOfPort = new Map<number, number>();
  const kernel = new Map<number, number>();
  for (const line of stdout.split('\n')) {
    const cols = line.trim().split(/\s+/);
    const local = cols[2];
    const pid = Number(/pid=(\d+)/.exec(line)?.[1] ?? NaN);
    if (!local || Number.isNaN(pid)) continue;
    pidOfPort.set(Number(local.slice(local.lastIndexOf(':') + 1)), pid);
    kernel.set(pid, (kernel.get(pid) ?? 0) + 1);
  }
  const double = new Map<number | 'other', number>();
  for (const p of doublePorts) {
    const key = pidOfPort.get(p) ?? 'other';
    double.set(key, (double.get(key) ?? 0) + 1);
  }
  return { kernel, double };
}

export function tokenFile(dir: string, replica: string): string {
  return join(dir, `${replica}.token`);
}
