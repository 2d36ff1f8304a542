// Blocking-query fan-out: 10,000 parked `?index=N&wait=60s` queries on one server, one change to
// the service they watch, and the server-side time until every answer is written (counted with
// 'finish' events inside the server process), plus the server's RSS. Goal: < 0.5 s, < 250 MB.
//
// One client process (this one) opens the sockets, on loopback only; the server is a child pinned
// to core 1. Nothing system-wide is changed: 10,000 sockets fit the default per-process fd limit
// here (checked before starting). Kills only the child it spawned.
//
//   node --import tsx bench/fanout.ts [--queries 10000]

import { request, type ClientRequest } from 'node:http';
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
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

export async function run(opts: { queries?: number } = {}): Promise<BenchResult> {
  const wanted = opts.queries ?? 10_000;
  // Client and server are separate processes; each needs one fd per socket plus some slack.
  const queries = Math.min(wanted, fdLimit() - 200);
  const notes: string[] = [];
  if (queries < wanted) notes.push(`fd limit allows only ${queries} sockets per process (ulimit -n); ran with ${queries}.`);
  const child = await startChild(['fanout'], true);
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
          const req = request({ host: '127.0.0.1', port: child.port, path: `${PATH}?index=${index}&wait=60s`, agent: false }, (res) => {
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
    const mb = (b: number) => Math.round(b / 1024 / 1024);
    return {
      name: 'fanout',
      rows: [
        {
          'parked queries': queries,
          'server: all answers written (ms)': Number(server.writtenMs.toFixed(1)),
          'server: all handlers ran (ms)': Number(server.handlersMs.toFixed(1)),
          'client: all answers read (ms)': Number((allReceivedAt - changeSentAt).toFixed(1)),
          'RSS idle (MB)': mb(idle.rss),
          'RSS parked (MB)': mb(parked.rss),
          'RSS peak during fan-out (MB)': mb(server.peakRss),
          'client errors': errors,
        },
      ],
      notes: [
        ...notes,
        `${queries} GET ${PATH}?index=N&wait=60s on separate loopback sockets from one client process, then one Consul change to the service; the server (pinned to core 1 when taskset is available) times from the change to the last response 'finish' event.`,
        'The client-side time includes the IPC round trip and the single client process reading every answer (the client is the slower side).',
      ],
    };
  } finally {
    for (const r of pending) r.destroy();
    await stopChild(child);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { queries: { type: 'string' } } });
  console.log(JSON.stringify(await run({ queries: values.queries ? Number(values.queries) : undefined }), null, 2));
}
