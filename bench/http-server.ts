// Child process for bench/http.ts and bench/fanout.ts: one server under test, pinned by the parent
// with taskset. Modes:
//   discovery <meshed|unmeshed> [services]  Discovery's HTTP API over `services` services (default 1);
//                                127.0.0.1 (where wrk connects from) is a meshed or unmeshed caller,
//                                so wrk needs no source-address binding.
//   bare <bodyDir>               fastify returning the same bytes as Discovery per service name:
//                                the body (one file per name in bodyDir) after the same header
//                                lines (bodyDir/headers.json), written in one writeHead: the yardstick.
//   fanout                       Discovery, plus IPC commands to trigger a change and report
//                                server-side time until every parked answer is written.
//   bare-longpoll <bodyFile>     a bare fastify long-poll server with the same IPC commands: the
//                                fan-out's yardstick.
// Prints one JSON line {"port":N} on stdout once listening.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Fastify, { type FastifyReply } from 'fastify';
import { testCore } from '../test/support/core.ts';
import { catalog, kube, kubeService, pod, slice } from '../test/support/world-fixtures.ts';

export const BENCH_SERVICE = 'bench';
/** In the bare server's body directory: each name's header lines. */
export const HEADERS_FILE = 'headers.json';

/** Names of the services in the throughput world: 100 of them, as a client polling many services sees. */
export function serviceNames(count: number): string[] {
  return count === 1 ? [BENCH_SERVICE] : Array.from({ length: count }, (_, i) => `${BENCH_SERVICE}-${String(i).padStart(3, '0')}`);
}

/**
 * `services` services of 10 HAProxy instances each (an 11.7 kB body, a typical health answer), all
 * migrated (a Kubernetes Service with a meshed endpoint); 127.0.0.1 is the caller, meshed or not.
 */
export function benchWorld(callerMeshed: boolean, instances = 10, version = 0, services = 1) {
  const names = serviceNames(services);
  const specs = names.flatMap((service, s) =>
    Array.from({ length: instances }, (_, i) => ({
      service,
      node: `haproxy-${service}-${String(i).padStart(2, '0')}`,
      address: `10.${20 + Math.floor(s / 200)}.${version * 200 + (s % 200)}.${i + 1}`,
      port: 8080,
      tags: ['v1', 'http', `zone-${i % 3}`],
      meta: { version: '1.2.3', team: 'platform' },
      nodeStatus: 'passing' as const,
    })),
  );
  return {
    consul: catalog(specs),
    kube: kube({
      namespaces: ['apps', 'clients'],
      services: names.map((name, s) => kubeService('apps', name, `10.96.${Math.floor(s / 250)}.${(s % 250) + 1}`, [{ name: 'http', port: 8080 }])),
      endpointSlices: names.map((name, s) => slice('apps', name, [{ pod: `${name}-1`, ip: `10.244.${Math.floor(s / 250)}.${(s % 250) + 1}` }])),
      pods: [
        ...names.map((name, s) => pod('apps', `${name}-1`, `10.244.${Math.floor(s / 250)}.${(s % 250) + 1}`, { meshed: true, workload: name })),
        pod('clients', 'client-1', '127.0.0.1', { meshed: callerMeshed, workload: 'client' }),
      ],
    }),
  };
}

async function main(): Promise<void> {
  // Exit through process.exit so --cpu-prof and other exit hooks run.
  process.on('SIGTERM', () => process.exit(0));
  const [mode = 'discovery', arg = 'unmeshed'] = process.argv.slice(2);
  if (mode === 'bare') {
    // arg: a directory holding one file per service name, the body Discovery sends for it.
    // arg/headers.json: per name, Discovery's header lines as a flat name/value list (Node adds
    // Date, Connection and Keep-Alive itself, as it does for Discovery).
    const app = Fastify({ logger: false });
    const headers = JSON.parse(await readFile(join(arg, HEADERS_FILE), 'utf8')) as Record<string, string[]>;
    const cache = new Map<string, { body: Buffer; headers: string[] }>();
    for (const name of await readdir(arg)) {
      if (name !== HEADERS_FILE) cache.set(name, { body: await readFile(join(arg, name)), headers: headers[name] ?? [] });
    }
    app.get('/v1/health/service/:name', (req, reply) => {
      const answer = cache.get((req.params as { name: string }).name);
      if (!answer) return reply.code(404).send();
      // Header names exactly as Discovery writes them (fastify's reply.header lower-cases them).
      reply.hijack();
      reply.raw.writeHead(200, answer.headers);
      reply.raw.end(answer.body);
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const a = app.server.address();
    process.stdout.write(`${JSON.stringify({ port: typeof a === 'object' && a ? a.port : 0 })}\n`);
    return;
  }
  if (mode === 'bare-longpoll') {
    await bareLongPoll(arg);
    return;
  }

  const meshed = mode === 'discovery' && arg === 'meshed';
  const services = Number(process.argv[4] ?? 1);
  let answered = 0;
  let changeAt = 0;
  let doneAt = 0;
  let peakRss = 0;
  let target = Infinity;
  let finished = 0;
  let finishedAt = 0;
  // Observations deduplicated in a Set, as Sidecar scoping's recorder keeps them (scoping is off
  // here); the test default keeps every observation in an array, which would grow with the run.
  const seen = new Set<string>();
  const core = await testCore({
    world: benchWorld(meshed, 10, 0, services),
    observer: { observe: (o) => seen.add(`${o.caller.workload}>${o.service}`) },
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

/**
 * The yardstick for the fan-out: a bare fastify long-poll server. A GET whose ?index= is current
 * parks its reply in an array; on `change` every parked reply is sent the body (the bytes Discovery
 * sends, from bodyFile) with the next index. Same IPC commands and 'finish' counting as `fanout`.
 */
async function bareLongPoll(bodyFile: string): Promise<void> {
  const body = await readFile(bodyFile);
  let index = 100;
  let parked: FastifyReply[] = [];
  let changeAt = 0;
  let handlersAt = 0;
  let finished = 0;
  let finishedAt = 0;
  let target = Infinity;
  const app = Fastify({ logger: false });
  app.server.on('request', (_req, res) => {
    res.once('finish', () => {
      if (changeAt > 0 && ++finished === target) finishedAt = performance.now();
    });
  });
  app.get('/v1/health/service/:name', (req, reply) => {
    const wanted = Number((req.query as { index?: string }).index ?? 0);
    reply.header('content-type', 'application/json');
    if (wanted >= index) {
      parked.push(reply);
      return reply;
    }
    return reply.header('x-consul-index', String(index)).send(body);
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const a = app.server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof a === 'object' && a ? a.port : 0 })}\n`);
  process.on('message', (msg: { cmd: string; n?: number }) => {
    if (msg.cmd === 'waiting') process.send?.({ waiting: parked.length, rss: process.memoryUsage().rss });
    else if (msg.cmd === 'change') {
      target = msg.n ?? parked.length;
      let peakRss = process.memoryUsage().rss;
      changeAt = performance.now();
      index++;
      const waiting = parked;
      parked = [];
      for (const reply of waiting) reply.header('x-consul-index', String(index)).send(body);
      handlersAt = performance.now();
      const poll = setInterval(() => {
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
        if (finishedAt > 0) {
          clearInterval(poll);
          process.send?.({ handlersMs: handlersAt - changeAt, writtenMs: finishedAt - changeAt, peakRss, answered: waiting.length, finished });
        }
      }, 5);
    }
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
