// Scale: a world of 2,000 services, 40,000 Consul instances and 20,000 Pods, loaded by a real
// `discovery serve` process from snapshot files. Reports the time from process start to the world
// being loaded (as logged by the app: read + parse + build, not the TypeScript loader), and RSS.
// Goal: loaded in under 5 s, under 300 MB RSS.
//
//   node --import tsx bench/scale.ts

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { discoveryCli } from './node-script.ts';
import { generateWorld } from './world-gen.ts';
import { freePort } from '../test/support/process.ts';

const RUNS = 3;

export interface BenchResult {
  name: string;
  rows: Array<Record<string, string | number>>;
  notes: string[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

async function loadOnce(dir: string, kubeFile: string): Promise<{ syncMs: number; rss: number; services: number; callers: number }> {
  const ports = [await freePort(), await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [...discoveryCli(), 'serve', '--consul-snapshot', join(dir, 'consul.json'), '--kube-snapshot', join(dir, kubeFile), '--state-dir', join(dir, `state-${Date.now()}`),
      '--http-addr', `127.0.0.1:${ports[0]}`, '--dns-addr', `127.0.0.1:${ports[1]}`, '--admin-addr', `127.0.0.1:${ports[2]}`],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, DISCOVERY_LOG_LEVEL: 'info', DISCOVERY_SIDECARS: 'false' } },
  );
  try {
    const loaded = await new Promise<{ syncMs: number; services: number; callers: number }>((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new Error('world not loaded within 120 s')), 120_000);
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        for (const line of buf.split('\n')) {
          if (line.includes('"world loaded"')) {
            clearTimeout(timer);
            resolve(JSON.parse(line) as { syncMs: number; services: number; callers: number });
          }
        }
        buf = buf.slice(buf.lastIndexOf('\n') + 1);
      });
      child.on('exit', (code) => reject(new Error(`serve exited with ${code}`)));
    });
    // Let the listeners come up and the post-load collection run before reading RSS.
    await new Promise((r) => setTimeout(r, 3000));
    return { ...loaded, rss: await rssMb(child.pid!) };
  } finally {
    child.kill('SIGKILL');
  }
}

export async function run(): Promise<BenchResult> {
  const dir = await mkdtemp(join(tmpdir(), 'discovery-scale-'));
  const rows: BenchResult['rows'] = [];
  try {
    for (const kubeFormat of ['json', 'yaml'] as const) {
      const w = generateWorld({ kubeFormat });
      await writeFile(join(dir, 'consul.json'), w.consulJson);
      const kubeFile = kubeFormat === 'json' ? 'kube.json' : 'kube.yaml';
      await writeFile(join(dir, kubeFile), w.kubeYaml);
      const runs = [];
      for (let i = 0; i < RUNS; i++) runs.push(await loadOnce(dir, kubeFile));
      rows.push({
        'kube snapshot format': kubeFormat === 'json' ? 'kubectl -o json (List)' : 'kubectl -o yaml (multi-doc)',
        services: w.summary.services,
        instances: w.summary.instances,
        pods: w.summary.pods,
        'load time (median ms)': Math.round(median(runs.map((r) => r.syncMs))),
        'load times (ms)': runs.map((r) => r.syncMs).join(' / '),
        'RSS after load (median MB)': Math.round(median(runs.map((r) => r.rss))),
      });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return {
    name: 'Scale: world load time and memory',
    rows,
    notes: [
      `${RUNS} runs each; load time is measured by the server from the first snapshot read to the world being built (both sources, every index stamped).`,
      'Goal: < 5 s and < 300 MB RSS.',
    ],
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await run();
  console.log(JSON.stringify(r, null, 2));
}
