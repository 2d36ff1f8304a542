// The bundled demo world (examples/demo), loaded through the same parsers the snapshot sources use,
// and what the status page must say about it, worked out from the world model itself.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildCatalog } from '../../src/sources/consul/catalog-build.ts';
import { parseRegistrations } from '../../src/sources/consul/registration-body.ts';
import { parseKubeSnapshot } from '../../src/sources/kubernetes/snapshot-document.ts';
import { buildWorld, type World } from '../../src/world/world.ts';
import type { ConsulCatalog } from '../../src/world/consul-types.ts';
import type { KubeSnapshot } from '../../src/world/kube-types.ts';

export const DEMO_DIR = fileURLToPath(new URL('../../examples/demo/', import.meta.url));

export function loadDemoWorld(): { consul: ConsulCatalog; kube: KubeSnapshot; world: World } {
  const consul = buildCatalog(parseRegistrations(readFileSync(`${DEMO_DIR}consul.json`, 'utf8'), 'consul.json'), 'dc1', 'consul.json');
  const kube = parseKubeSnapshot(readFileSync(`${DEMO_DIR}kube.yaml`, 'utf8'), 'kube.yaml').snapshot;
  const world = buildWorld(consul, kube, { meshRule: 'any', clusterDomain: 'cluster.local', rootNamespace: 'istio-system' });
  return { consul, kube, world };
}

/** The page's four numbers, from the world model's mesh statuses (no pins). */
export function expectedCounts(world: World): { total: number; 'consul-only': number; mapped: number; meshed: number; blocked: number } {
  const counts = { total: 0, 'consul-only': 0, mapped: 0, meshed: 0, blocked: 0 };
  for (const t of world.targets.values()) {
    counts.total++;
    if (t.status === 'not-in-kubernetes') counts['consul-only']++;
    else if (t.status === 'meshed') counts.meshed++;
    else if (t.status === 'mapping-ambiguous' || t.status === 'port-ambiguous' || t.status === 'no-cluster-ip') counts.blocked++;
    else counts.mapped++;
  }
  return counts;
}
