// The Kubernetes permissions preflight asks about are the ones live mode uses: every request a
// live replica makes against the Kubernetes double (start, lookups that write a Sidecar, the
// Lease, stop) is one of preflight's access needs, and the Lease preflight names is the one the
// replica holds.

import assert from 'node:assert/strict';
import test from 'node:test';
import { loadConfig } from '../../src/config/load.ts';
import { accessNeeds, LEASE_NAME } from '../../src/preflight/kube-checks.ts';
import { requestVerb } from '../support/kube-double/access.ts';
import { routeResource } from '../support/kube-double/routes.ts';
import { eventually } from '../support/eventually.ts';
import { MESHED_CALLER, request, startDoubles, startReplica } from '../live/live-harness.ts';

test('preflight access needs cover every request a live replica makes, and name its Lease', async () => {
  const d = await startDoubles();
  const a = await startReplica(d, 'replica-a');
  let stopped = false;
  try {
    await eventually(async () => assert.equal((await request(a.adminUrl(), '/readyz')).status, 200, 'ready'), 'the replica to be ready');
    await request(a.httpUrl(), '/v1/health/service/reviews', { from: MESHED_CALLER });
    await eventually(() => assert.ok(d.kube.get('networking.istio.io/v1', 'Sidecar', 'bookinfo', 'productpage'), 'the Sidecar is written'), 'the Sidecar write');
    await eventually(() => assert.ok(d.kube.get('coordination.k8s.io/v1', 'Lease', 'discovery', LEASE_NAME), `the Lease ${LEASE_NAME} exists`), 'the Lease');
    await a.stop();
    stopped = true;

    const config = await loadConfig({ configFile: undefined, flags: { namespace: 'discovery', 'state-dir': d.dir }, env: {} });
    const needs = accessNeeds(config);
    const seen = new Set<string>();
    for (const entry of d.kube.stats.log()) {
      const target = routeResource(entry.path);
      if (!target) continue; // API discovery and OpenAPI documents: readable by every authenticated user
      const watch = entry.query['watch'] === 'true' || entry.query['watch'] === '1';
      const verb = requestVerb(entry.method, watch, target);
      const what = `${verb} ${target.type.group}/${target.type.plural} in ${target.namespace ?? 'all namespaces'}${target.name ? ` (${target.name})` : ''}`;
      seen.add(what);
      const covered = needs.some(
        (n) => n.group === target.type.group && n.resource === target.type.plural && n.verbs.includes(verb) && (n.namespace === null || n.namespace === target.namespace) &&
          (!n.named?.verbs.includes(verb) || n.named.name === target.name),
      );
      assert.ok(covered, `live mode made a request preflight does not check: ${what}`);
    }
    for (const kind of ['pods', 'sidecars', 'leases']) assert.ok([...seen].some((s) => s.includes(`/${kind} `)), `requests on ${kind} were seen: ${[...seen].join('; ')}`);
  } finally {
    if (!stopped) await a.stop();
    await d.close();
  }
});
