// Every core metric name and help text in one place. Front ends and the reconciler declare
// theirs beside their code, registered into the same Registry.

import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Decision, Mode } from '../decision/decide.ts';
import { MODES } from '../decision/decide.ts';
import type { FrontEnd, LookupCounters } from '../lookup/lookup.ts';

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
    });
    this.shadowDiffs = new Counter({
      name: 'discovery_shadow_mesh_answers_total',
      help: 'In shadow mode: lookups that hybrid mode would have answered with the ClusterIP, by front end and hybrid reason.',
      labelNames: ['via', 'reason'],
      registers: [registry],
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

  count(via: FrontEnd, decision: Decision): void {
    this.answers.inc({ via, route: decision.route, reason: decision.reason });
    if (decision.hybrid?.route === 'mesh') this.shadowDiffs.inc({ via, reason: decision.hybrid.reason });
  }

  setMode(current: Mode): void {
    for (const m of MODES) this.mode.set({ mode: m }, m === current ? 1 : 0);
  }
}
