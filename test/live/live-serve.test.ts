// `discovery serve` in live mode as an operator starts it: flags and Consul's own token variable,
// a real child process. Plus the start before the upstreams can be followed (readiness says why,
// nobody is meshed, reads are Consul's own) and the configuration errors of live mode.

import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'node:test';
import { eventually } from '../support/eventually.ts';
import { run, startServe } from '../support/process.ts';
import { DISCOVERY_TOKEN, HAPROXY, MESHED_CALLER, UNMESHED_CALLER, addressesOf, request, startDoubles, startReplica } from './live-harness.ts';

test('live serve: a real process follows both upstreams, never logs its token, and releases the Lease on SIGTERM', async () => {
  const d = await startDoubles();
  const stateDir = await mkdtemp(join(d.dir, 'serve-'));
  const served = await startServe(['--consul-addr', d.consul.url, '--kubeconfig', d.kubeconfig, '--replica-id', 'replica-proc', '--namespace', 'discovery', '--state-dir', stateDir], {
    CONSUL_HTTP_TOKEN: DISCOVERY_TOKEN,
    DISCOVERY_LOG_LEVEL: 'debug',
  });
  try {
    const answer = await request(`http://${served.http}`, '/v1/health/service/reviews', { from: UNMESHED_CALLER });
    assert.equal(answer.status, 200, answer.body);
    assert.deepEqual(addressesOf(answer), HAPROXY);
    await eventually(() => assert.equal((d.kube.get('coordination.k8s.io/v1', 'Lease', 'discovery', 'discovery-reconciler') as { spec?: { holderIdentity?: string } } | null)?.spec?.holderIdentity, 'replica-proc', 'the process holds the Lease'), 'the Lease to be taken', { timeoutMs: 10_000, intervalMs: 50 });
    assert.equal(await served.stop('SIGTERM'), 0, 'a clean exit');
    const lease = d.kube.get('coordination.k8s.io/v1', 'Lease', 'discovery', 'discovery-reconciler') as { spec?: { holderIdentity?: string | null } } | null;
    assert.ok(!lease?.spec?.holderIdentity, 'the Lease is released on the way out, so another replica takes over at once');
    const logs = served.logs.join('\n');
    assert.match(logs, /parts chosen/, 'the log says which parts are live');
    assert.ok(!logs.includes(DISCOVERY_TOKEN), 'the token is never logged');
  } finally {
    await served.stop('SIGKILL');
    await d.close();
  }
});

test('live serve: before Kubernetes can be listed the replica runs, says why it is not ready, meshes nobody, and becomes ready by itself', async () => {
  const d = await startDoubles();
  await d.kube.faults.down();
  const r = await startReplica(d, 'replica-early');
  try {
    await eventually(async () => {
      const ready = await request(r.adminUrl(), '/readyz');
      assert.equal(ready.status, 503, 'not ready');
      const body = JSON.parse(ready.body) as { sources: Array<{ name: string; synced: boolean; lastError: string | null }> };
      const kube = body.sources.find((s) => s.name.startsWith('kubernetes'));
      assert.equal(kube?.synced, false, 'the Kubernetes source is named as not synced');
      assert.ok(kube?.lastError, 'with the reason');
    }, 'readiness to name the Kubernetes source');
    await eventually(async () => assert.deepEqual(addressesOf(await request(r.httpUrl(), '/v1/health/service/reviews', { from: MESHED_CALLER })), HAPROXY, 'HAProxy for everyone'), 'the Consul part to answer');
    await d.kube.faults.up();
    await eventually(async () => assert.equal((await request(r.adminUrl(), '/readyz')).status, 200, 'ready'), 'readiness after the API comes back', { timeoutMs: 40_000, intervalMs: 100 });
  } finally {
    await r.stop();
    await d.close();
  }
});

test('live serve: configuration errors of live mode exit 2 with a message naming what is wrong, and start nothing', async () => {
  const d = await startDoubles();
  try {
    const both = await run(['serve', '--consul-addr', d.consul.url, '--consul-snapshot', 'examples/demo/consul.json']);
    assert.equal(both.code, 2, both.stderr);
    assert.match(both.stderr, /consul-addr/);
    assert.match(both.stderr, /consul-snapshot/);

    const noFile = await run(['serve', '--consul-addr', d.consul.url, '--consul-token-file', join(d.dir, 'missing-token')]);
    assert.equal(noFile.code, 2, noFile.stderr);
    assert.match(noFile.stderr, /consul-token-file .*missing-token/);

    const notInPod = await run(['serve', '--kube-in-cluster', 'true'], { KUBERNETES_SERVICE_HOST: '', KUBERNETES_SERVICE_PORT: '' });
    assert.equal(notInPod.code, 2, notInPod.stderr);
    assert.match(notInPod.stderr, /kube-in-cluster: .*not .*Pod/);

    const badKubeconfig = await run(['serve', '--kubeconfig', join(d.dir, 'no-such-kubeconfig')]);
    assert.equal(badKubeconfig.code, 2, badKubeconfig.stderr);
    assert.match(badKubeconfig.stderr, /kubeconfig .*no-such-kubeconfig/);
  } finally {
    await d.close();
  }
});
