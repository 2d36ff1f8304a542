// What the admin listener needs from the running app beyond the core: readiness, the Sidecar gate
// and the managed Sidecars. Its own file so the admin routes and the status page share it without
// importing each other.

import type { SidecarGate } from '../gate/gate.ts';

export interface AdminDeps {
  readonly ready: () => { ready: boolean; detail: Record<string, unknown> };
  readonly gate: SidecarGate;
  readonly sidecars: () => { enabled: boolean; items: readonly object[]; status: Record<string, unknown> };
}
