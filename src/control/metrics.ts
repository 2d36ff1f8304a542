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

/** What the control status gauges read of the control store at scrape time. */
export interface ControlStatusReading {
  readonly backend: { readonly reachable: boolean };
  readonly localOverride: { readonly mode: Mode; readonly at: string } | null;
  readonly shared: { readonly modeChangedAt: string | null; readonly pins: readonly { readonly caller?: string }[] };
}

/** Seconds since the epoch of an ISO time; 0 when there is none or it does not parse. */
function epochSeconds(iso: string | null | undefined): number {
  const ms = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(ms) ? ms / 1000 : 0;
}

/**
 * Reachability of the shared control store, this replica's local override, since when the mode in
 * force holds, and the pins, read at scrape time. Registers once per registry (a second call is a
 * no-op), so the admin server and the wiring may both ask for them.
 */
export function registerControlStatusGauges(registry: Registry, status: () => ControlStatusReading): void {
  if (registry.getSingleMetric('discovery_control_backend_reachable')) return;
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
  new Gauge({
    name: 'discovery_mode_changed_timestamp_seconds',
    help: 'When the mode in force on this replica was set (Unix seconds): the local override\'s time when one is set, else the last change of the shared mode; 0 when it was never changed. With discovery_mode it tells how long the kill-switch has been on.',
    registers: [registry],
    collect() {
      const s = status();
      this.set(epochSeconds(s.localOverride ? s.localOverride.at : s.shared.modeChangedAt));
    },
  });
  new Gauge({
    name: 'discovery_pins',
    help: 'Pins to HAProxy in force, by scope: service (every caller of the service) or caller (one caller workload\'s view of it).',
    labelNames: ['scope'],
    registers: [registry],
    collect() {
      const pins = status().shared.pins;
      const byCaller = pins.filter((p) => p.caller !== undefined).length;
      this.set({ scope: 'caller' }, byCaller);
      this.set({ scope: 'service' }, pins.length - byCaller);
    },
  });
}
