// Problems in the current world (ambiguous mappings and ports, shared caller IPs), counted at scrape time.

import { Gauge, type Registry } from 'prom-client';
import type { WorldProblem } from './world.ts';

export function registerWorldProblemsGauge(registry: Registry, problems: () => readonly WorldProblem[]): void {
  new Gauge({
    name: 'discovery_world_problems',
    help: 'Problems found in the world model (ambiguous mappings, ports, shared caller IPs).',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      this.reset();
      const counts = new Map<string, number>();
      for (const p of problems()) counts.set(p.kind, (counts.get(p.kind) ?? 0) + 1);
      for (const [kind, n] of counts) this.set({ kind }, n);
    },
  });
}
