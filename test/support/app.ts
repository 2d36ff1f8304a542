// Every test builds Discovery through the app's own buildApp, with test doubles for what differs
// from production: in-memory world sources the test pushes into, a Sidecar sink of its choosing,
// the control backend in a temporary state dir, and (optionally) a manual clock.

import { mkdtemp } from 'node:fs/promises';
import { after } from 'node:test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { buildApp, type App } from '../../src/app.ts';
import type { DiscoveryConfig, SidecarConfig } from '../../src/config/config.ts';
import { DEFAULT_CONFIG } from '../../src/config/defaults.ts';
import { FileAuditLog } from '../../src/control/audit-log.ts';
import { FileControlBackend } from '../../src/control/file-backend.ts';
import type { HttpServerOptions } from '../../src/frontends/http/server.ts';
import type { LookupObserver, Observation } from '../../src/lookup/lookup.ts';
import type { SharedSink } from '../../src/reconcile/reconciler.ts';
import type { Clock } from '../../src/platform/clock.ts';
import { createLogger, type Logger } from '../../src/platform/log.ts';
import { MemorySidecarSink } from '../../src/sinks/memory-sidecar-sink.ts';
import type { SidecarSink } from '../../src/sinks/sidecar-sink.ts';
import type { Source, SourceListener, SourceStatus } from '../../src/sources/source.ts';
import type { ConsulCatalog } from '../../src/world/consul-types.ts';
import type { KubeSnapshot } from '../../src/world/kube-types.ts';
import { standardWorld } from './world-fixtures.ts';

/** A world source the test drives: `push` delivers a new version, as a live source would. */
export class TestSource<T> implements Source<T> {
  readonly name: string;
  #value: T | undefined;
  #listener: SourceListener<T> | null = null;
  #loads = 0;
  #lastChangeAt: number | null = null;

  constructor(name: string, initial?: T) {
    this.name = name;
    this.#value = initial;
  }

  async start(listener: SourceListener<T>, signal: AbortSignal): Promise<void> {
    this.#listener = listener;
    signal.addEventListener('abort', () => (this.#listener = null), { once: true });
    if (this.#value !== undefined) this.push(this.#value);
  }

  push(value: T): void {
    this.#value = value;
    this.#loads++;
    this.#lastChangeAt = Date.now();
    this.#listener?.data(value);
  }

  fail(err: Error): void {
    this.#listener?.error(err);
  }

  /** Report that the upstream can (not) be followed, as a live source does. */
  setStale(stale: boolean): void {
    this.#listener?.stale(stale);
  }

  status(): SourceStatus {
    return { name: this.name, synced: this.#loads > 0, version: String(this.#loads), lastChangeAt: this.#lastChangeAt, lastError: null, loads: this.#loads, errors: 0 };
  }
}

export interface TestWorld {
  readonly consul?: ConsulCatalog;
  readonly kube?: KubeSnapshot;
}

export interface TestAppOptions {
  /** Initial world; default the standard test world. */
  readonly world?: TestWorld;
  readonly config?: Partial<DiscoveryConfig>;
  /** Merged over the config's Sidecar settings. Scoping is off unless a test turns it on. */
  readonly sidecars?: Partial<SidecarConfig>;
  readonly sink?: SidecarSink;
  readonly clock?: Clock;
  readonly stateDir?: string;
  /** Open the HTTP, DNS and admin listeners (each on 127.0.0.1, a free port). */
  readonly listen?: boolean;
  readonly http?: HttpServerOptions;
  /** Replaces the default observer, which records every observation in `observations`. */
  readonly observer?: LookupObserver;
  /** Several replicas share the sink; this one leads when isLeader() says so. */
  readonly sharedSink?: SharedSink;
  /** The app's logger; default silent (or TEST_LOG_LEVEL). */
  readonly log?: Logger;
}

export interface TestApp {
  readonly app: App;
  readonly stateDir: string;
  readonly sink: SidecarSink;
  /** Meshed-caller lookups of meshed targets, as the lookups reported them. */
  readonly observations: Observation[];
  readonly consul: TestSource<ConsulCatalog>;
  readonly kube: TestSource<KubeSnapshot>;
  /** Deliver a new version of one or both parts through the sources and rebuild the world now. */
  setWorld(w: TestWorld): void;
  stop(): Promise<void>;
}

/** Apps a test did not stop itself are stopped when its file ends, so no watcher keeps the process alive. */
const running = new Set<App>();
// Only under the test runner: a benchmark child process imports this file too.
if (process.env['NODE_TEST_CONTEXT']) {
  after(async () => {
    await Promise.all([...running].map((a) => a.stop()));
  });
}

export async function tempStateDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'discovery-test-'));
}

export async function testApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const stateDir = opts.stateDir ?? (await tempStateDir());
  const any = '127.0.0.1:0';
  const config: DiscoveryConfig = {
    ...DEFAULT_CONFIG,
    httpAddr: any,
    dnsAddr: any,
    adminAddr: any,
    stateDir,
    ...opts.config,
    sidecars: { ...DEFAULT_CONFIG.sidecars, enabled: false, ...opts.config?.sidecars, ...opts.sidecars },
  };
  const initial = opts.world ?? standardWorld();
  const consul = new TestSource<ConsulCatalog>('test-consul', initial.consul);
  const kube = new TestSource<KubeSnapshot>('test-kube', initial.kube);
  const sink = opts.sink ?? new MemorySidecarSink();
  const observations: Observation[] = [];
  const app = await buildApp(config, {
    log: opts.log ?? createLogger(process.env['TEST_LOG_LEVEL'] ?? 'silent'),
    sources: [
      { part: 'consul', source: consul },
      { part: 'kube', source: kube },
    ],
    sidecarSink: sink,
    control: { backend: new FileControlBackend(stateDir, { pollIntervalMs: config.snapshotPollMs }), audit: new FileAuditLog(stateDir) },
    registry: new Registry(),
    // Every push is a burst of one: the world is rebuilt before push() returns.
    feedWindow: { quietMs: 0, maxMs: 0 },
    observer: opts.observer ?? { observe: (o) => observations.push(o) },
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.http ? { http: opts.http } : {}),
    ...(opts.sharedSink ? { sharedSink: opts.sharedSink } : {}),
  });
  running.add(app);
  await app.start({ listen: opts.listen ?? false });
  return {
    app,
    stateDir,
    sink,
    observations,
    consul,
    kube,
    setWorld(w) {
      if (w.consul) consul.push(w.consul);
      if (w.kube) kube.push(w.kube);
    },
    async stop() {
      running.delete(app);
      await app.stop();
    },
  };
}

/** The port a started test app's listener is bound to. */
export function portOf(address: string | undefined): number {
  const port = Number(address?.slice(address.lastIndexOf(':') + 1));
  if (!Number.isInteger(port) || port <= 0) throw new Error(`not listening: ${String(address)}`);
  return port;
}
