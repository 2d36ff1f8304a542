import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateWorld } from '../../bench/world-gen.ts';
import { buildCatalog } from '../../src/sources/consul/catalog-build.ts';
import { parseRegistrations } from '../../src/sources/consul/registration-body.ts';
import { parseKubeSnapshot } from '../../src/sources/kubernetes/snapshot-document.ts';
import { buildWorld } from '../../src/world/world.ts';

const small = { services: 50, instancesPerService: 3, workloads: 40, podsPerWorkload: 2, meshedFraction: 0.5, migratedFraction: 0.2, namespaces: 5, seed: 7 };

for (const kubeFormat of ['yaml', 'json'] as const) {
  test(`a small generated world (${kubeFormat}) loads through the snapshot parsers`, () => {
    const gen = generateWorld({ ...small, kubeFormat });
    const consul = buildCatalog(parseRegistrations(gen.consulJson, 'consul.json'), 'dc1', 'consul.json');
    const kube = parseKubeSnapshot(gen.kubeYaml, 'kube.yaml').snapshot;
    assert.equal(consul.services.size, 50);
    assert.equal([...consul.services.values()].reduce((n, s) => n + s.instances.length, 0), 150);
    assert.equal(kube.pods.length, 80);
    assert.equal(kube.services.length, 10);
    assert.equal(gen.summary.migratedServices, 10);
    for (const p of kube.pods) for (const ip of p.ips) assert.match(ip, /^127\.1\.\d+\.\d+$/);

    const world = buildWorld(consul, kube, { meshRule: 'any', clusterDomain: 'cluster.local', rootNamespace: 'istio-system' });
    // Migrated services are chosen among meshed workloads, so each is served from the mesh.
    assert.equal([...world.targets.values()].filter((t) => t.status === 'meshed').length, 10);
    assert.equal(world.callers.size, 80);
    assert.equal(world.callers.get(gen.summary.meshedCallerIp!)!.pod.meshed, true);
    assert.equal(world.callers.get(gen.summary.unmeshedCallerIp!)!.pod.meshed, false);
  });
}

test('the generator is deterministic for a seed and differs across seeds', () => {
  assert.deepEqual(generateWorld(small), generateWorld(small));
  assert.notEqual(generateWorld({ ...small, seed: 8 }).kubeYaml, generateWorld(small).kubeYaml);
});
