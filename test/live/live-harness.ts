// Live mode end to end: Discovery replicas built exactly as `discovery serve` builds them
// (loadConfig → appDeps → buildApp) against the Consul agent double and the Kubernetes API double.
// The doubles hold a small fleet: `reviews` and `details` (Consul: two HAProxy nodes each) migrated
// to Kubernetes as bookinfo/reviews and bookinfo/details (ClusterIPs 10.96.0.10 and .11, meshed
// endpoints), `ratings` Consul-only; callers
// 127.0.0.10 (bookinfo/productpage, meshed) and 127.0.0.20 (legacy/billing, not meshed).

import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { buildApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { Logger } from '../../src/platform/log.ts';
import { appDeps } from '../../src/wiring/deps.ts';
import { ConsulDouble } from '../support/consul-double/index.ts';
import { KubeDouble } from '../support/kube-double/index.ts';
import { namespaceObject, podObject, serviceObject, sliceObject } from '../sources/kube-live-fixtures.ts';

export const MESHED_CALLER = '127.0.0.10';
export const UNMESHED_CALLER = '127.0.0.20';
export const REVIEWS_CLUSTER_IP = '10.96.0.10';
export const DETAILS_CLUSTER_IP = '10.96.0.11';
export const HAPROXY = ['10.1.0.1', '10.1.0.2'];
/** Discovery's own token: reads the catalog, writes the control key and its audit trail. */
export const DISCOVERY_TOKEN = 'discovery-own-token';
/** A caller's token allowed to use the KV under app/ (and nothing Discovery's token may). */
export const CALLER_TOKEN = 'caller-app-token';
export const CONTROL_KEY = 'discovery/control';

export interface Doubles {
  readonly consul: ConsulDouble;
  readonly kube: KubeDouble;
  readonly dir: string;
  readonly kubeconfig: string;
  close(): Promise<void>;
}

export async function startDoubles(opts: { acl?: boolean } = {}): Promise<Doubles> {
  const consul = await ConsulDouble.start(
    opts.acl === false
      ? {}
      : {
          acl: {
            managementToken: 'root-token',
            tokens: {
              [DISCOVERY_TOKEN]: { serviceRead: ['*'], nodeRead: true, keyRead: [CONTROL_KEY], keyWrite: [CONTROL_KEY] },
              [CALLER_TOKEN]: { serviceRead: ['*'], nodeRead: true, keyRead: ['app/'], keyWrite: ['app/'] },
            },
            anonymous: { serviceRead: ['*'], nodeRead: true },
          },
        },
  );
  for (const [i, address] of HAPROXY.entries()) {
    const node = `haproxy-${i + 1}`;
    consul.register({ Node: node, Address: address, Check: { CheckID: 'serfHealth', Name: 'Serf Health Status', Status: 'passing' } });
    for (const [service, port] of [['reviews', 9080], ['details', 9082], ['ratings', 9081]] as const) {
      const id = `${service}-${i + 1}`;
      consul.register({ Node: node, Address: address, Service: { ID: id, Service: service, Port: port, Tags: ['haproxy'] }, Checks: [{ CheckID: `service:${id}`, Name: 'haproxy frontend', Status: 'passing', ServiceID: id }] });
    }
  }
  const kube = await KubeDouble.start();
  for (const ns of ['bookinfo', 'legacy', 'discovery', 'istio-system']) kube.create(namespaceObject(ns));
  kube.create(podObject('bookinfo', 'productpage-5d8f7c9b6-xyz', MESHED_CALLER, { meshed: true, deployment: 'productpage', labels: { app: 'productpage' } }));
  kube.create(podObject('legacy', 'billing-5d8f7c9b6-qrs', UNMESHED_CALLER, { meshed: false, deployment: 'billing', labels: { app: 'billing' } }));
  kube.create(podObject('bookinfo', 'reviews-v1-5d8f7c9b6-abc', '10.244.0.5', { meshed: true, deployment: 'reviews-v1', labels: { app: 'reviews' } }));
  kube.create(podObject('bookinfo', 'details-v1-5d8f7c9b6-def', '10.244.0.6', { meshed: true, deployment: 'details-v1', labels: { app: 'details' } }));
  kube.create(serviceObject('bookinfo', 'reviews', REVIEWS_CLUSTER_IP, [{ name: 'http', port: 9080 }]));
  kube.create(sliceObject('bookinfo', 'reviews', [{ pod: 'reviews-v1-5d8f7c9b6-abc', ip: '10.244.0.5' }]));
  kube.create(serviceObject('bookinfo', 'details', DETAILS_CLUSTER_IP, [{ name: 'http', port: 9082 }]));
  kube.create(sliceObject('bookinfo', 'details', [{ pod: 'details-v1-5d8f7c9b6-def', ip: '10.244.0.6' }]));

  const dir = await mkdtemp(join(tmpdir(), 'discovery-live-'));
  const kubeconfig = join(dir, 'kubeconfig');
  await kube.writeKubeconfig(kubeconfig);
  return {
    consul,
    kube,
    dir,
    kubeconfig,
    async close() {
      await Promise.all([consul.close(), kube.close()]);
    },
  };
}

export interface Replica {
  readonly name: string;
  readonly app: App;
  readonly stateDir: string;
  /** Every log line, as JSON text. */
  readonly logs: string[];
  httpUrl(): string;
  adminUrl(): string;
  dnsPort(): number;
  stop(): Promise<void>;
}

function capture(lines: string[]): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'debug' }, sink);
}

/** Knobs that keep the tests quick; the behaviour is the same as with the defaults. */
const QUICK: Record<string, string> = {
  'live.watch-wait': '5s',
  'live.lease-duration': '3s',
  'sidecars.quiet-period': '50ms',
  'sidecars.max-delay': '200ms',
  'sidecars.propagation-delay': '100ms',
};

/** A replica configured as an operator would configure one: flags and environment through loadConfig. */
export async function startReplica(d: Doubles, name: string, flags: Record<string, string> = {}, env: Record<string, string> = {}): Promise<Replica> {
  const stateDir = await mkdtemp(join(d.dir, `${name}-`));
  const tokenFile = join(stateDir, 'consul-token');
  await writeFile(tokenFile, `${DISCOVERY_TOKEN}\n`, { mode: 0o600 });
  const config = await loadConfig({
    configFile: undefined,
    flags: {
      'consul-addr': d.consul.url,
      'consul-token-file': tokenFile,
      kubeconfig: d.kubeconfig,
      namespace: 'discovery',
      'replica-id': name,
      'state-dir': stateDir,
      'http-addr': '127.0.0.1:0',
      'dns-addr': '127.0.0.1:0',
      'admin-addr': '127.0.0.1:0',
      ...QUICK,
      ...flags,
    },
    env,
  });
  const logs: string[] = [];
  const log = capture(logs);
  const app = await buildApp(config, await appDeps(config, log, env));
  await app.start();
  const port = (a: string | undefined) => Number(a?.slice(a.lastIndexOf(':') + 1));
  return {
    name,
    app,
    stateDir,
    logs,
    httpUrl: () => `http://${app.addresses.http}`,
    adminUrl: () => `http://${app.addresses.admin}`,
    dnsPort: () => port(app.addresses.dns),
    stop: () => app.stop(),
  };
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One request from a caller's own source address (how Discovery tells callers apart). */
export function request(url: string, path: string, opts: { from?: string; method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL(path, url), { method: opts.method ?? 'GET', headers: opts.headers ?? {}, ...(opts.from ? { localAddress: opts.from } : {}), agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(20_000, () => req.destroy(new Error(`no answer to ${path} within 20 s`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** The addresses in a /v1/health/service answer. */
export function addressesOf(answer: HttpAnswer): string[] {
  const entries = JSON.parse(answer.body) as Array<{ Node: { Address: string }; Service: { Address: string } }>;
  return entries.map((e) => e.Service.Address || e.Node.Address).sort();
}
