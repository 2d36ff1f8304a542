// The control gauges, read from the control store at scrape time.

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

/** Reachability of the shared control store and this replica's local override, read at scrape time. */
export function registerControlStatusGauges(registry: Registry, status: () => { backend: { reachable: boolean }; localOverride: { mode: Mode } | null }): void {
  new Gauge({
    name: 'discovery_control_backend_reachable',
    help: 'Whether the store of mode and pins answered the last request (1) or not (0: this replica keeps its last known state).',
    registers: [registry],
    collect() {
      this.set(status().backend.reachable ? 1 : 0);
    },
  });
  new Gauge({
    name: 'discovery_control_local_override',
    help: "This replica's local override: 1 for the mode it forces; all 0 when there is none (the shared mode is in force).",
    labelNames: ['mode'],
    registers: [registry],
    collect() {
      const override = status().localOverride;
      for (const m of MODES) this.set({ mode: m }, override?.mode === m ? 1 : 0);
    },
  });
}
