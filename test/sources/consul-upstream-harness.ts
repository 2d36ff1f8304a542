// Shared by the upstream Consul source tests: a ConsulDouble with a generated fleet, a source on
// it with short waits, and a listener that records every call (deliveries, stale flips, errors)
// with the log lines the source wrote.

import { Registry } from 'prom-client';
import type { DestinationStream } from 'pino';
import { ConsulDouble, type ConsulDoubleOptions } from '../support/consul-double/index.ts';
import { createLogger } from '../../src/platform/log.ts';
import { systemClock, type Clock, type Timer } from '../../src/platform/clock.ts';
import { ConsulUpstreamSource, type ConsulUpstreamOptions } from '../../src/sources/consul-upstream/consul-upstream-source.ts';
import type { ConsulCatalog, ConsulInstance } from '../../src/world/consul-types.ts';
import { eventually } from '../support/eventually.ts';

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [k: string]: unknown;
}

export type Call = { readonly kind: 'data'; readonly catalog: ConsulCatalog; readonly at: number } | { readonly kind: 'stale'; readonly stale: boolean; readonly at: number } | { readonly kind: 'error'; readonly err: Error; readonly at: number };

/** The system clock, counting timers not yet fired or cancelled (to prove an abort leaves none). */
export class CountingClock implements Clock {
  pending = 0;
  now(): number {
    return systemClock.now();
  }
  setTimer(ms: number, fn: () => void): Timer {
    this.pending++;
    let live = true;
    const done = (): void => {
      if (!live) return;
      live = false;
      this.pending--;
    };
    const t = systemClock.setTimer(ms, () => {
      done();
      fn();
    });
    return {
      cancel: () => {
        done();
        t.cancel();
      },
    };
  }
}

/** Registrations of a fleet: `services` services, each with `perService` instances spread over `nodes` HAProxy nodes, one passing check each. */
export function fleet(services: number, perService = 2, nodes = 4): object[] {
  const regs: object[] = [];
  for (let n = 0; n < nodes; n++) {
    regs.push({ Node: `haproxy-${n}`, Address: `10.0.0.${n + 1}`, Check: { CheckID: 'serfHealth', Name: 'Serf Health Status', Status: 'passing' } });
  }
  for (let s = 0; s < services; s++) {
    for (let k = 0; k < perService; k++) {
      const node = `haproxy-${(s + k) % nodes}`;
      const id = `svc-${s}-${k}`;
      regs.push({
        Node: node,
        Address: `10.0.0.${((s + k) % nodes) + 1}`,
        Service: { ID: id, Service: `svc-${s}`, Tags: ['haproxy', `v${k}`], Port: 20000 + s },
        Checks: [{ CheckID: `service:${id}`, Name: 'haproxy frontend', Status: 'passing', ServiceID: id }],
      });
    }
  }
  return regs;
}

export interface Harness {
  readonly double: ConsulDouble;
  readonly source: ConsulUpstreamSource;
  readonly registry: Registry;
  readonly clock: CountingClock;
  readonly calls: Call[];
  readonly logs: LogLine[];
  readonly abort: AbortController;
  deliveries(): ConsulCatalog[];
  latest(): ConsulCatalog;
  /** Resolves with the first delivery after `since` (a deliveries() length) that passes `probe`. */
  delivered(since: number, probe: (c: ConsulCatalog) => void, what: string, timeoutMs?: number): Promise<ConsulCatalog>;
  synced(timeoutMs?: number): Promise<ConsulCatalog>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly double?: ConsulDoubleOptions;
  readonly registrations?: readonly object[];
  readonly source?: Partial<ConsulUpstreamOptions>;
  /** Start the source (default true). */
  readonly start?: boolean;
  /** Called with the double (fleet registered) before the source starts: faults in place from the first request. */
  readonly prepare?: (double: ConsulDouble) => void;
}

export async function harness(opts: HarnessOptions = {}): Promise<Harness> {
  const double = await ConsulDouble.start(opts.double);
  for (const r of opts.registrations ?? []) double.register(r);
  opts.prepare?.(double);
  const logs: LogLine[] = [];
  const destination: DestinationStream = { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) };
  const registry = new Registry();
  const clock = new CountingClock();
  const source = new ConsulUpstreamSource({
    url: double.url,
    token: null,
    datacenter: 'dc1',
    clock,
    log: createLogger(process.env['UPSTREAM_TEST_LOG'] ?? 'info', destination),
    registry,
    waitMs: 1000,
    probeSweepMs: 2000,
    ...opts.source,
  });
  const calls: Call[] = [];
  const abort = new AbortController();
  const deliveries = (): ConsulCatalog[] => calls.flatMap((c) => (c.kind === 'data' ? [c.catalog] : []));
  const h: Harness = {
    double,
    source,
    registry,
    clock,
    calls,
    logs,
    abort,
    deliveries,
    latest: () => {
      const all = deliveries();
      if (all.length === 0) throw new Error('nothing delivered yet');
      return all[all.length - 1]!;
    },
    delivered: (since, probe, what, timeoutMs = 8000) =>
      eventually(
        () => {
          const after = deliveries().slice(since);
          let last: unknown = new Error('no delivery yet');
          for (const c of after) {
            try {
              probe(c);
              return c;
            } catch (err) {
              last = err;
            }
          }
          throw last;
        },
        what,
        { timeoutMs },
      ),
    synced: (timeoutMs = 10_000) => h.delivered(0, () => undefined, 'the first delivery', timeoutMs),
    close: async () => {
      abort.abort();
      await double.close();
    },
  };
  if (opts.start !== false) {
    await source.start(
      {
        data: (catalog) => calls.push({ kind: 'data', catalog, at: Date.now() }),
        stale: (stale) => calls.push({ kind: 'stale', stale, at: Date.now() }),
        error: (err) => calls.push({ kind: 'error', err, at: Date.now() }),
      },
      abort.signal,
    );
  }
  return h;
}

export function instancesOf(c: ConsulCatalog, service: string): readonly ConsulInstance[] {
  const s = c.services.get(service);
  if (!s) throw new Error(`no service ${service} in the catalog (has ${[...c.services.keys()].slice(0, 10).join(', ')}…)`);
  return s.instances;
}

export function staleCalls(h: Harness): boolean[] {
  return h.calls.flatMap((c) => (c.kind === 'stale' ? [c.stale] : []));
}

export async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  if (!m) throw new Error(`no metric ${name}`);
  const values = (m as { values: { value: number; labels: Record<string, string | number> }[] }).values;
  return values.filter((v) => Object.entries(labels).every(([k, val]) => String(v.labels[k]) === val)).reduce((sum, v) => sum + v.value, 0);
}
