// The admin API's view of the operator controls on this replica: the mode in force, where it comes
// from (the shared state or this replica's local override), the shared pins, and whether the
// shared store can be reached. Every control endpoint answers with it.

import type { ControlBackendHealth } from '../control/backend.ts';
import type { ControlStatus } from '../control/control-store.ts';
import type { LocalOverride } from '../control/local-override.ts';
import type { ControlState } from '../control/state.ts';

export interface ControlView extends ControlState {
  /** In force on this replica: the local override's mode when one is set, else the shared one. */
  readonly mode: ControlState['mode'];
  /** The mode every replica shares (modeReason, modeChangedAt and modeChangedBy describe it). */
  readonly sharedMode: ControlState['mode'];
  readonly localOverride: LocalOverride | null;
  readonly backend: ControlBackendHealth;
  readonly replica: string | null;
}

export function controlView(status: ControlStatus): ControlView {
  return {
    ...status.shared,
    mode: status.mode,
    sharedMode: status.shared.mode,
    localOverride: status.localOverride,
    backend: status.backend,
    replica: status.replica,
  };
}
