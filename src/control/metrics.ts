// The mode gauge, read from the control store at scrape time.

import { Gauge, type Registry } from 'prom-client';
import { MODES, type Mode } from '../decision/decide.ts';

export function registerModeGauge(registry: Registry, mode: () => Mode): void {
  new Gauge({
    name: 'discovery_mode',
    help: 'Current global mode: 1 for the active one (consul-only means the kill-switch is on).',
    labelNames: ['mode'],
    registers: [registry],
    collect() {
      const current = mode();
      for (const m of MODES) this.set({ mode: m }, m === current ? 1 : 0);
    },
  });
}
