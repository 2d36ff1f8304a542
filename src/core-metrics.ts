// Every core metric name and help text in one place. Front ends and the reconciler declare
// theirs beside their code, registered into the same Registry.

import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Decision, Mode } from './decision/decide.ts';
import { MODES } from './decision/decide.ts';
import type { FrontEnd, LookupCounters } from './lookup/lookup.ts';

export class CoreMetrics implements LookupCounters {
  readonly registry: Registry;
  readonly answers: Counter<'via' | 'route' | 'reason'>;
  readonly shadowDiffs: Counter<'via' | 'reason'>;
  readonly reloads: Counter<'source' | 'result'>;
  readonly mode: Gauge<'mode'>;
  readonly worldProblems: Gauge<'kind'>;

  constructor(registry = new Registry(), defaults = true) {
    this.registry = registry;
    if (defaults) collectDefaultMetrics({ register: registry });
    this.answers = new Counter({
      name: 'discovery_answers_total',
      help: 'Lookups answered, by front end, route (consul = HAProxy, mesh = ClusterIP) and decision reason.',
      labelNames: ['via', 'route', 'reason'],
      registers: [registry],
      collect: () => this.flush(),
    });
    this.shadowDiffs = new Counter({
      name: 'discovery_shadow_mesh_answers_total',
      help: 'In shadow mode: lookups that hybrid mode would have answered with the ClusterIP, by front end and hybrid reason.',
      labelNames: ['via', 'reason'],
      registers: [registry],
      collect: () => this.flush(),
    });
    this.reloads = new Counter({
      name: 'discovery_source_reloads_total',
      help: 'Snapshot loads by source and result (ok, error). An error keeps the last good world.',
      labelNames: ['source', 'result'],
      registers: [registry],
    });
    this.mode = new Gauge({
      name: 'discovery_mode',
      help: 'Current global mode: 1 for the active one (consul-only means the kill-switch is on).',
      labelNames: ['mode'],
      registers: [registry],
    });
    this.worldProblems = new Gauge({
      name: 'discovery_world_problems',
      help: 'Problems found in the world model (ambiguous mappings, ports, shared caller IPs).',
      labelNames: ['kind'],
      registers: [registry],
    });
  }

  /** Plain numbers on the per-query path; folded into the prom-client counters at scrape time (a labelled inc costs about as much as answering a DNS query). */
  readonly #pending = new Map<Decision, { via: FrontEnd; n: number }[]>();

  count(via: FrontEnd, decision: Decision): void {
    // Decisions are a small closed set of frozen-shape objects per (route, reason): key by object identity when possible.
    let slots = this.#pending.get(decision);
    if (!slots) {
      slots = [];
      this.#pending.set(decision, slots);
    }
    for (const s of slots) {
      if (s.via === via) {
        s.n++;
        return;
      }
    }
    slots.push({ via, n: 1 });
  }

  /** Move the counts gathered since the last scrape into the exported counters. */
  flush(): void {
    for (const [decision, slots] of this.#pending) {
      for (const { via, n } of slots) {
        this.answers.inc({ via, route: decision.route, reason: decision.reason }, n);
        if (decision.hybrid?.route === 'mesh') this.shadowDiffs.inc({ via, reason: decision.hybrid.reason }, n);
      }
    }
    this.#pending.clear();
  }

  setMode(current: Mode): void {
    for (const m of MODES) this.mode.set({ mode: m }, m === current ? 1 : 0);
  }
}
