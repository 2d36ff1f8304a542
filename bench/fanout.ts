// Blocking-query fan-out: 10,000 parked `?index=N&wait=60s` queries on one server, one change to
// the service they watch, and the server-side time until every answer is written (counted with
// 'finish' events inside the server process), plus the server's RSS. The same client drives a bare
// fastify long-poll server in the same run; the ratio is the result. Goal: <= 1.25 x the bare
// server, RSS < 250 MB with 10,000 parked.
//
// One client process (this one) opens the sockets, on loopback only; the server is a child pinned
// to core 1. Nothing system-wide is changed: 10,000 sockets fit the default per-process fd limit
// here (checked before starting). Kills only the child it spawned.
//
//   node --import tsx bench/fanout.ts [--queries 10000]

import { Agent, request, type ClientRequest } from 'node:http';
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startChild, stopChild, type BenchResult, type Child } from './http.ts';

const PATH = '/v1/health/service/bench';

function getIndex(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: PATH }, (res) => {
      res.resume();
      res.on('end', () => resolve(Number(res.headers['x-consul-index'])));
    })
      .on('error', reject)
      .end();
  });
}

function ask<T>(child: Child, msg: object): Promise<T> {
  return new Promise((resolve) => {
    child.proc.once('message', (m) => resolve(m as T));
    child.proc.send(msg);
  });
}

function fdLimit(): number {
  try {
    return Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
  } catch {
    return 1024;
  }
}

interface FanoutRun {
  writtenMs: number;
  handlersMs: number;
  clientMs: number;
  idleRss: number;
  parkedRss: number;
  peakRss: number;
  errors: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function run(opts: { queries?: number; runs?: number } = {}): Promise<BenchResult> {
  const wanted = opts.queries ?? 10_000;
  // Client and server are separate processes; each needs one fd per socket plus some slack.
  const queries = Math.min(wanted, fdLimit() - 200);
  const notes: string[] = [];
  if (queries < wanted) notes.push(`fd limit allows only ${queries} sockets per process (ulimit -n); ran with ${queries}.`);
  const dir = await mkdtemp(join(tmpdir(), 'discovery-bench-fanout-'));
  const ours: FanoutRun[] = [];
  const bare: FanoutRun[] = [];
  const ratios: number[] = [];
  let bodyBytes = 0;
  try {
    // The yardstick sends the bytes Discovery sends for the service.
    const bodyFile = join(dir, 'body.json');
    const probe = await startChild(['fanout'], true);
    try {
      const body = await getBody(probe.port);
      bodyBytes = body.length;
      await writeFile(bodyFile, body);
    } finally {
      await stopChild(probe);
    }
    // Same client, same run: the two servers alternate, order swapped every run.
    for (let i = 0; i < (opts.runs ?? 3); i++) {
      const discoveryFirst = i % 2 === 0;
      const first = await runOnce(queries, discoveryFirst ? ['fanout'] : ['bare-longpoll', bodyFile]);
      const second = await runOnce(queries, discoveryFirst ? ['bare-longpoll', bodyFile] : ['fanout']);
      const [d, b] = discoveryFirst ? [first, second] : [second, first];
      ours.push(d);
      bare.push(b);
      ratios.push(d.writtenMs / b.writtenMs);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const mb = (b: number) => Math.round(b / 1024 / 1024);
  const row = (server: string, runs: FanoutRun[]) => {
    const pick = (f: (r: FanoutRun) => number) => median(runs.map(f));
    return {
      server,
      'parked queries': queries,
      'body bytes': bodyBytes,
      'server: all answers written (median ms)': Number(pick((r) => r.writtenMs).toFixed(1)),
      'per run (ms)': runs.map((r) => r.writtenMs.toFixed(0)).join(' / '),
      'server: all handlers ran (median ms)': Number(pick((r) => r.handlersMs).toFixed(1)),
      'client: all answers read (median ms)': Number(pick((r) => r.clientMs).toFixed(1)),
      'RSS idle (MB)': mb(pick((r) => r.idleRss)),
      'RSS parked (MB)': mb(pick((r) => r.parkedRss)),
      'RSS peak during fan-out (MB)': mb(pick((r) => r.peakRss)),
      'client errors': runs.reduce((n, r) => n + r.errors, 0),
    };
  };
  return {
    name: 'fanout',
    rows: [
      row('Discovery', ours),
      row('bare fastify long-poll', bare),
      {
        server: 'Discovery ÷ bare (written time, median of per-run ratios; goal ≤ 1.25)',
        'server: all answers written (median ms)': Number(median(ratios).toFixed(2)),
        'per run (ms)': ratios.map((r) => r.toFixed(2)).join(' / '),
      },
    ],
    notes: [
      ...notes,
      `${queries} GET ${PATH}?index=N&wait=60s on separate keep-alive loopback sockets (as long-poll clients hold them) from one client process (this one), then one change; the server (pinned to core 1 when taskset is available) times from the change to the last response 'finish' event. Discovery: one Consul change to the service. Bare fastify long-poll: the parked replies kept in an array, each sent the same body bytes with the next index. ${ours.length} runs each, alternating in one bench run, a fresh server each; ratio per pair of runs.`,
      'The client-side time includes the IPC round trip and the single client process reading every answer (the client is the slower side).',
    ],
  };
}

function getBody(port: number): Promise<Buffer> {
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

async function runOnce(queries: number, server: string[]): Promise<FanoutRun> {
  // Keep-alive, as real long-poll clients (Go api, consul-template, Prometheus) hold their sockets.
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const child = await startChild(server, true);
  const pending: ClientRequest[] = [];
  try {
    const index = await getIndex(child.port);
    const idle = await ask<{ waiting: number; rss: number }>(child, { cmd: 'waiting' });
    let received = 0;
    let changeSentAt = 0;
    let allReceivedAt = 0;
    let errors = 0;
    const allReceived = new Promise<void>((resolve) => {
      const open = (n: number): void => {
        for (let i = 0; i < n; i++) {
          const req = request({ host: '127.0.0.1', port: child.port, path: `${PATH}?index=${index}&wait=60s`, agent }, (res) => {
            res.resume();
            res.on('end', () => {
              if (++received === queries) {
                allReceivedAt = performance.now();
                resolve();
              }
            });
          });
          req.on('error', () => {
            errors++;
            if (++received === queries) resolve();
          });
          req.end();
          pending.push(req);
        }
      };
      // Open in batches so the listen backlog never overflows (a dropped SYN costs a 1 s retry).
      let opened = 0;
      const batch = (): void => {
        const n = Math.min(500, queries - opened);
        open(n);
        opened += n;
        if (opened < queries) setTimeout(batch, 20);
      };
      batch();
    });
    let parked = { waiting: 0, rss: 0 };
    const deadline = Date.now() + 60_000;
    while (parked.waiting < queries) {
      if (Date.now() > deadline) throw new Error(`only ${parked.waiting} of ${queries} queries parked after 60 s`);
      await new Promise((r) => setTimeout(r, 100));
      parked = await ask(child, { cmd: 'waiting' });
    }
    changeSentAt = performance.now();
    const done = ask<{ handlersMs: number; writtenMs: number; peakRss: number; answered: number; finished: number }>(child, { cmd: 'change', n: queries });
    await allReceived;
    const server = await done;
    return {
      writtenMs: server.writtenMs,
      handlersMs: server.handlersMs,
      clientMs: allReceivedAt - changeSentAt,
      idleRss: idle.rss,
      parkedRss: parked.rss,
      peakRss: server.peakRss,
      errors,
    };
  } finally {
    for (const r of pending) r.destroy();
    agent.destroy();
    await stopChild(child);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { queries: { type: 'string' } } });
  console.log(JSON.stringify(await run({ queries: values.queries ? Number(values.queries) : undefined }), null, 2));
}
