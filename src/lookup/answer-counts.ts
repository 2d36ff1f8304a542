// Answers by front end, route and reason. Counted as plain numbers on the per-query path and folded
// into the prom-client counters at scrape time: a labelled inc() costs about as much as answering
// a cached DNS query.

import { Counter, type Registry } from 'prom-client';
import type { Decision } from '../decision/decide.ts';
import type { FrontEnd, LookupCounters } from './lookup.ts';

export class AnswerCounts implements LookupCounters {
  readonly #answers: Counter<'via' | 'route' | 'reason'>;
  readonly #shadow: Counter<'via' | 'reason'>;
  /** Decisions are a small closed set of frozen objects: keyed by identity. */
  readonly #pending = new Map<Decision, { via: FrontEnd; n: number }[]>();

  constructor(registry: Registry) {
    this.#answers = new Counter({
      name: 'discovery_answers_total',
      help: 'Lookups answered, by front end, route (consul = HAProxy, mesh = ClusterIP) and decision reason.',
      labelNames: ['via', 'route', 'reason'],
      registers: [registry],
      collect: () => this.flush(),
    });
    this.#shadow = new Counter({
      name: 'discovery_shadow_mesh_answers_total',
      help: 'In shadow mode: lookups that hybrid mode would have answered with the ClusterIP, by front end and hybrid reason.',
      labelNames: ['via', 'reason'],
      registers: [registry],
      collect: () => this.flush(),
    });
  }

  count(via: FrontEnd, decision: Decision): void {
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
        this.#answers.inc({ via, route: decision.route, reason: decision.reason }, n);
        if (decision.hybrid?.route === 'mesh') this.#shadow.inc({ via, reason: decision.hybrid.reason }, n);
      }
    }
    this.#pending.clear();
  }
}
