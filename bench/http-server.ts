// Child process for bench/http.ts and bench/fanout.ts: one server under test, pinned by the parent
// with taskset. Modes:
//   discovery <meshed|unmeshed>  Discovery's HTTP API; 127.0.0.1 (where wrk connects from) is a
//                                meshed or unmeshed caller, so wrk needs no source-address binding.
//   bare <bodyFile>              fastify returning a cached Buffer of the same body: the yardstick.
//   fanout                       Discovery, plus IPC commands to trigger a change and report
//                                server-side time until every parked answer is written.
// Prints one JSON line {"port":N} on stdout once listening.

import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import Fastify from 'fastify';
import { testCore } from '../test/support/core.ts';
import { catalog, kube, kubeService, pod, slice } from '../test/support/world-fixtures.ts';

export const BENCH_SERVICE = 'bench';

/** 10 HAProxy instances (an 11.7 kB body, a typical health answer), migrated; 127.0.0.1 is the caller. */
export function benchWorld(callerMeshed: boolean, instances = 10, version = 0) {
  const specs = Array.from({ length: instances }, (_, i) => ({
    service: BENCH_SERVICE,
    node: `haproxy-${BENCH_SERVICE}-${String(i).padStart(2, '0')}`,
    address: `10.20.${version}.${i + 1}`,
    port: 8080,
    tags: ['v1', 'http', `zone-${i % 3}`],
    meta: { version: '1.2.3', team: 'platform' },
    nodeStatus: 'passing' as const,
  }));
  return {
    consul: catalog(specs),
    kube: kube({
      namespaces: ['apps', 'clients'],
      services: [kubeService('apps', BENCH_SERVICE, '10.96.7.7', [{ name: 'http', port: 8080 }])],
      endpointSlices: [slice('apps', BENCH_SERVICE, [{ pod: 'bench-1', ip: '10.244.7.7' }])],
      pods: [pod('apps', 'bench-1', '10.244.7.7', { meshed: true, workload: BENCH_SERVICE }), pod('clients', 'client-1', '127.0.0.1', { meshed: callerMeshed, workload: 'client' })],
    }),
  };
}

async function main(): Promise<void> {
  // Exit through process.exit so --cpu-prof and other exit hooks run.
  process.on('SIGTERM', () => process.exit(0));
  const [mode = 'discovery', arg = 'unmeshed'] = process.argv.slice(2);
  if (mode === 'bare') {
    const body = await readFile(arg);
    const app = Fastify({ logger: false });
    const cache = new Map([[BENCH_SERVICE, body]]);
    app.get('/v1/health/service/:name', (req, reply) => {
      reply.header('content-type', 'application/json').send(cache.get((req.params as { name: string }).name));
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const a = app.server.address();
    process.stdout.write(`${JSON.stringify({ port: typeof a === 'object' && a ? a.port : 0 })}\n`);
    return;
  }

  const meshed = mode === 'discovery' && arg === 'meshed';
  let answered = 0;
  let changeAt = 0;
  let doneAt = 0;
  let peakRss = 0;
  let target = Infinity;
  let finished = 0;
  let finishedAt = 0;
  const core = await testCore({
    world: benchWorld(meshed),
    http: {
      onBlockingAnswer: () => {
        answered++;
        if (answered === target) doneAt = performance.now();
      },
    },
  });
  const front = core.test.app.http;
  // Count writes finished, not handler calls: the answer is written when the response ends.
  if (mode === 'fanout') {
    front.fastify.server.on('request', (_req, res) => {
      res.once('finish', () => {
        if (changeAt > 0 && ++finished === target) finishedAt = performance.now();
      });
    });
  }
  const { port } = await front.listen('127.0.0.1:0');
  process.stdout.write(`${JSON.stringify({ port })}\n`);

  process.on('message', (msg: { cmd: string; n?: number }) => {
    if (msg.cmd === 'waiting') process.send?.({ waiting: front.waiting(), rss: process.memoryUsage().rss });
    else if (msg.cmd === 'change') {
      target = msg.n ?? front.waiting();
      peakRss = process.memoryUsage().rss;
      changeAt = performance.now();
      core.setWorld(benchWorld(meshed, 10, 1));
      const poll = setInterval(() => {
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
        if (finishedAt > 0) {
          clearInterval(poll);
          process.send?.({ handlersMs: doneAt - changeAt, writtenMs: finishedAt - changeAt, peakRss, answered, finished });
        }
      }, 5);
    }
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
