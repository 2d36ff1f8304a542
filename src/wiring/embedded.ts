// Embedded mode's parts: the world from snapshot files, Sidecars and the control state in the
// state dir. The default of `npm start` (the demo world) and of any part live mode does not take.

import type { DiscoveryConfig } from '../config/config.ts';
import { FileAuditLog } from '../control/audit-log.ts';
import { FileControlBackend } from '../control/file-backend.ts';
import type { Logger } from '../platform/log.ts';
import { FileSidecarSink } from '../sinks/file-sidecar-sink.ts';
import type { WorldSource } from '../sources/feed.ts';
import { consulSnapshotSource, kubeSnapshotSource } from '../sources/snapshot-sources.ts';
import type { AppControl, AppDeps } from '../app.ts';

export function consulSnapshotPart(config: DiscoveryConfig): WorldSource | null {
  if (!config.consulSnapshot) return null;
  return { part: 'consul', source: consulSnapshotSource(config.consulSnapshot, config.datacenter, { pollIntervalMs: config.snapshotPollMs }) };
}

export function kubeSnapshotPart(config: DiscoveryConfig, log: Logger): WorldSource | null {
  if (!config.kubeSnapshot) return null;
  const onIgnored = (ignored: ReadonlyMap<string, number>) => log.debug({ ignored: Object.fromEntries(ignored) }, 'kube snapshot: objects of other kinds ignored');
  return { part: 'kube', source: kubeSnapshotSource(config.kubeSnapshot, { pollIntervalMs: config.snapshotPollMs, onIgnored }) };
}

/** Mode and pins in the state dir: replicas that share the dir share them. */
export function fileControl(config: DiscoveryConfig): AppControl {
  return { backend: new FileControlBackend(config.stateDir, { pollIntervalMs: config.snapshotPollMs }), audit: new FileAuditLog(config.stateDir) };
}

/** Everything from files. */
export function embeddedDeps(config: DiscoveryConfig, log: Logger): AppDeps {
  return {
    log,
    sources: [consulSnapshotPart(config), kubeSnapshotPart(config, log)].filter((s): s is WorldSource => s !== null),
    sidecarSink: new FileSidecarSink(config.stateDir),
    control: fileControl(config),
  };
}
