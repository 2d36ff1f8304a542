// Whether the upstream answers, seen from every request the source makes: metrics, one log line
// per reachability transition, and one per distinct unusable answer of an endpoint. A request
// that failed only marks the upstream unreachable if nothing succeeded since it started, so a
// late failure cannot hide a newer success.

import { Counter, Gauge, type Registry } from 'prom-client';
import type { Clock } from '../../platform/clock.ts';
import type { Logger } from '../../platform/log.ts';
import type { RequestKind } from './blocking-watch.ts';
import { UpstreamError } from './upstream-http.ts';
import { MalformedAnswer } from './upstream-json.ts';

/** outage: unreachable, timed out or 5xx; refused: answered, but not with data (4xx, malformed). */
export type OutcomeClass = 'ok' | 'outage' | 'refused' | 'aborted';

export interface MonitorOptions {
  readonly name: string;
  readonly clock: Clock;
  readonly log: Logger;
  readonly registry: Registry;
  readonly openConnections: () => number;
  readonly onReachable: (reachable: boolean) => void;
  /** A new distinct problem with an endpoint's answers (already logged). */
  readonly onProblem: (err: Error) => void;
}

function classify(err: unknown): { cls: OutcomeClass; result: string } {
  if (err === null) return { cls: 'ok', result: 'ok' };
  if (err instanceof MalformedAnswer) return { cls: 'refused', result: 'malformed' };
  if (err instanceof UpstreamError) {
    if (err.kind === 'aborted') return { cls: 'aborted', result: 'aborted' };
    if (err.kind === 'timeout') return { cls: 'outage', result: 'timeout' };
    if (err.kind === 'unreachable') return { cls: 'outage', result: 'unreachable' };
    if (err.status !== null && err.status >= 500) return { cls: 'outage', result: 'server-error' };
    return { cls: 'refused', result: 'refused' };
  }
  return { cls: 'refused', result: 'malformed' };
}

export class UpstreamMonitor {
  readonly #opts: MonitorOptions;
  readonly #requests: Counter<'kind' | 'result'>;
  readonly #reachableGauge: Gauge;
  readonly #startedAt: number;
  #reachable: boolean | null = null;
  #lastContactAt: number | null = null;
  #lastSuccessAt = -Infinity;
  /** The current problem of each endpoint whose last answer was unusable. */
  readonly #problems = new Map<string, string>();
  #outage: string | null = null;
  #lastProblem: string | null = null;
  #errors = 0;

  constructor(opts: MonitorOptions) {
    this.#opts = opts;
    this.#startedAt = opts.clock.now();
    const registers = [opts.registry];
    this.#requests = new Counter({
      name: 'discovery_upstream_requests_total',
      help: 'Requests to the upstream Consul agent by kind (services, health-state, nodes, hot, read, probe, node-services, node-health) and result (ok, malformed, refused, server-error, unreachable, timeout).',
      labelNames: ['kind', 'result'],
      registers,
    });
    this.#reachableGauge = new Gauge({ name: 'discovery_upstream_reachable', help: '1 while the upstream Consul agent answers, 0 while it is down, hangs or answers 5xx.', registers });
    new Gauge({
      name: 'discovery_upstream_connections',
      help: 'Sockets open to the upstream Consul agent for the catalog watches (busy and idle).',
      registers,
      collect() {
        this.set(opts.openConnections());
      },
    });
    const seconds = (): number => (opts.clock.now() - (this.#lastContactAt ?? this.#startedAt)) / 1000;
    new Gauge({
      name: 'discovery_upstream_last_contact_seconds',
      help: 'Seconds since the upstream Consul agent last answered (since the source started while it never has).',
      registers,
      collect() {
        this.set(seconds());
      },
    });
    this.#reachableGauge.set(0);
  }

  get reachable(): boolean {
    return this.#reachable === true;
  }

  get lastContactAt(): number | null {
    return this.#lastContactAt;
  }

  /** The current failure: an outage, else the latest unusable answer still unresolved. */
  get lastError(): string | null {
    if (this.#outage !== null) return this.#outage;
    return this.#problems.size > 0 ? this.#lastProblem : null;
  }

  get errors(): number {
    return this.#errors;
  }

  /** Record one request's result; returns how the caller should treat it. */
  record(kind: RequestKind, path: string, startedAt: number, err: unknown): OutcomeClass {
    const { cls, result } = classify(err);
    if (cls === 'aborted') return cls;
    this.#requests.inc({ kind, result });
    const now = this.#opts.clock.now();
    if (cls === 'outage') {
      if (this.#lastSuccessAt < startedAt) this.#setReachable(false, `GET ${path}: ${messageOf(err)}`);
      return cls;
    }
    this.#lastSuccessAt = now;
    this.#lastContactAt = now;
    this.#setReachable(true, null);
    if (cls === 'ok') {
      if (this.#problems.delete(path)) this.#opts.log.info({ source: this.#opts.name, path }, `${this.#opts.name}: GET ${path} answers usable data again`);
      return cls;
    }
    const message = `${this.#opts.name}: GET ${path}: ${messageOf(err)}`;
    if (this.#problems.get(path) !== message) {
      this.#problems.set(path, message);
      this.#lastProblem = message;
      this.#errors++;
      this.#opts.log.warn({ source: this.#opts.name, path, kind }, `${message}; keeping the last good data and retrying with backoff`);
      this.#opts.onProblem(new Error(message));
    }
    return cls;
  }

  #setReachable(reachable: boolean, reason: string | null): void {
    if (this.#reachable === reachable) return;
    const first = this.#reachable === null;
    this.#reachable = reachable;
    this.#reachableGauge.set(reachable ? 1 : 0);
    const name = this.#opts.name;
    if (reachable) {
      this.#outage = null;
      if (!first) this.#opts.log.info({ source: name }, `${name}: upstream Consul answers again`);
    } else {
      this.#outage = `${name}: upstream Consul unreachable: ${reason ?? 'no answer'}`;
      this.#errors++;
      this.#opts.log.warn({ source: name }, `${this.#outage}; serving the last good catalog and retrying with backoff`);
    }
    this.#opts.onReachable(reachable);
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
