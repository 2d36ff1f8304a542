// Replicas of the control state for tests: each a ControlStore on its own ConsulKv client, KV
// backend, KV audit log, local override file and state dir, all against one Consul double, with
// a logger whose every line the test can read.

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { FileAuditLog } from '../../src/control/audit-log.ts';
import { ConsulKv } from '../../src/control/consul-kv-client.ts';
import { ConsulKvAuditLog } from '../../src/control/consul-kv-audit.ts';
import { ConsulKvControlBackend } from '../../src/control/consul-kv-backend.ts';
import { ControlStore } from '../../src/control/control-store.ts';
import { LocalOverrideFile } from '../../src/control/local-override.ts';
import { createLogger, type Logger } from '../../src/platform/log.ts';
import { ChangeBus, IndexClock, type ChangeSet } from '../../src/world/changes.ts';
import { ConsulDouble } from '../support/consul-double/index.ts';

export const CONTROL_KEY = 'discovery/control';
/** Discovery's own token in tests with ACLs on. */
export const DISCOVERY_TOKEN = 'discovery-secret-token-5f1c';
export const MANAGEMENT_TOKEN = 'management-secret-token-9a2e';

/** ACLs on: Discovery's token may read and write under discovery/, nothing else. */
export const ACL = { managementToken: MANAGEMENT_TOKEN, tokens: { [DISCOVERY_TOKEN]: { keyWrite: ['discovery/'] } } };

/** Every line a logger wrote, as text. */
export function capturedLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { log: createLogger('debug', sink), lines };
}

export interface Replica {
  readonly name: string;
  readonly stateDir: string;
  readonly store: ControlStore;
  readonly backend: ConsulKvControlBackend;
  readonly kv: ConsulKv;
  readonly events: ChangeSet[];
  /** What the store's watch reported as errors. */
  readonly errors: string[];
  readonly logLines: string[];
  /** Stops the watch and closes the client. */
  stop(): void;
}

export interface ReplicaOptions {
  readonly stateDir?: string;
  readonly token?: string | null;
  /** Start following the KV (default true). */
  readonly watch?: boolean;
  readonly waitMs?: number;
}

export async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'discovery-kv-control-'));
}

export async function startReplica(double: ConsulDouble, name: string, opts: ReplicaOptions = {}): Promise<Replica> {
  const stateDir = opts.stateDir ?? (await tempDir());
  const { log, lines } = capturedLogger();
  const kv = new ConsulKv({ host: '127.0.0.1', port: double.port, secure: false, token: opts.token === undefined ? DISCOVERY_TOKEN : opts.token }, { requestTimeoutMs: 2000 });
  // Short waits and retries keep each test quick; the behaviour is the same as with 5 minutes.
  const backend = new ConsulKvControlBackend({ kv, key: CONTROL_KEY, stateDir, log, waitMs: opts.waitMs ?? 2000, retryMaxMs: 100 });
  const bus = new ChangeBus();
  const events: ChangeSet[] = [];
  bus.subscribe((c) => events.push(c));
  const store = await ControlStore.open({
    backend,
    audit: new ConsulKvAuditLog({ kv, key: CONTROL_KEY, replica: name }),
    localAudit: new FileAuditLog(stateDir, 'audit-local.jsonl'),
    localOverride: new LocalOverrideFile(stateDir),
    replica: name,
    indexClock: new IndexClock(),
    bus,
  });
  const errors: string[] = [];
  const watching = new AbortController();
  if (opts.watch !== false) store.watch(watching.signal, (m) => errors.push(m));
  return {
    name,
    stateDir,
    store,
    backend,
    kv,
    events,
    errors,
    logLines: lines,
    stop() {
      watching.abort();
      kv.close();
    },
  };
}

/** The stored control document, parsed. */
export function storedDocument(double: ConsulDouble): { version: number; mode: string; pins: Array<{ service: string }> } | null {
  const e = double.kvGet(CONTROL_KEY);
  return e ? (JSON.parse(e.value.toString('utf8')) as { version: number; mode: string; pins: Array<{ service: string }> }) : null;
}

/** Two replicas (no token) on a fresh Consul double; everything is stopped when `fn` ends, however it ends. */
export async function withTwoReplicas(fn: (t: { double: ConsulDouble; a: Replica; b: Replica }) => Promise<void>): Promise<void> {
  const double = await ConsulDouble.start();
  const a = await startReplica(double, 'replica-a', { token: null });
  const b = await startReplica(double, 'replica-b', { token: null });
  try {
    await fn({ double, a, b });
  } finally {
    a.stop();
    b.stop();
    await double.close();
  }
}
