// The two embedded-mode sources: each reads one snapshot file in its real format and delivers the
// converted value the world is built from.

import type { ConsulCatalog } from '../world/consul-types.ts';
import type { KubeSnapshot } from '../world/kube-types.ts';
import { SnapshotFileSource } from './snapshot-file-source.ts';
import { buildCatalog } from './consul/catalog-build.ts';
import { parseRegistrations } from './consul/registration-body.ts';
import { parseKubeSnapshot } from './kubernetes/snapshot-document.ts';

export interface SnapshotSourceOptions {
  readonly pollIntervalMs?: number;
  readonly debounceMs?: number;
}

export function consulSnapshotSource(file: string, datacenter: string, opts: SnapshotSourceOptions = {}): SnapshotFileSource<ConsulCatalog> {
  return new SnapshotFileSource<ConsulCatalog>({
    ...opts,
    name: 'consul-snapshot',
    file,
    parse: (text, origin) => buildCatalog(parseRegistrations(text, origin), datacenter, origin),
  });
}

export interface KubeSnapshotSourceOptions extends SnapshotSourceOptions {
  /** After each accepted parse: objects skipped, by "apiVersion kind" (for a debug log line). */
  readonly onIgnored?: (ignored: ReadonlyMap<string, number>) => void;
}

export function kubeSnapshotSource(file: string, opts: KubeSnapshotSourceOptions = {}): SnapshotFileSource<KubeSnapshot> {
  const { onIgnored, ...rest } = opts;
  return new SnapshotFileSource<KubeSnapshot>({
    ...rest,
    name: 'kube-snapshot',
    file,
    parse: (text, origin) => {
      const { snapshot, ignored } = parseKubeSnapshot(text, origin);
      if (ignored.size > 0) onIgnored?.(ignored);
      return snapshot;
    },
  });
}
