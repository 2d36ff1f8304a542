// Sidecar scoping end to end through a real `discovery serve` process and a real DNS client
// (dig, bind9-dnsutils): first lookup gets HAProxy and queues the Sidecar, the answer flips to the
// ClusterIP once the Sidecar is written and has propagated, a restart keeps it, and the user-owned
// Sidecar in the demo world is never touched.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROOT, run, startServe } from '../support/process.ts';
import { eventually } from '../support/eventually.ts';

const exec = promisify(execFile);

async function dig(server: string, from: string, name: string, type = 'A'): Promise<string[]> {
  const [host, port] = server.split(':');
  const { stdout } = await exec('dig', ['-b', from, `@${host}`, '-p', port!, name, type, '+short', '+tries=1', '+time=2']);
  return stdout.split('\n').filter(Boolean).sort();
}

test('e2e sidecars over DNS: HAProxy first, ClusterIP once the Sidecar propagated, kept across a restart; user Sidecars untouched', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'discovery-e2e-sc-'));
  await copyFile(join(ROOT, 'examples/demo/consul.json'), join(dir, 'consul.json'));
  await copyFile(join(ROOT, 'examples/demo/kube.yaml'), join(dir, 'kube.yaml'));
  const config = join(dir, 'discovery.yaml');
  await writeFile(config, 'consul-snapshot: consul.json\nkube-snapshot: kube.yaml\nstate-dir: state\nsidecars:\n  enabled: true\n  quiet-period: 100ms\n  max-delay: 300ms\n  propagation-delay: 400ms\n');

  let s = await startServe(['--config', config]);
  try {
    // 127.0.0.11 is shop/frontend: meshed, no Sidecar yet.
    const first = await dig(s.dns, '127.0.0.11', 'reviews.service.consul');
    assert.ok(first.length > 0 && first.every((a) => a.startsWith('10.20.')), `first lookup answers HAProxy, got ${first.join(',')}`);
    const ex = await run(['explain', 'reviews', '--from', '127.0.0.11'], { DISCOVERY_ADMIN_ADDR: s.admin });
    assert.match(ex.stdout, /reason (sidecar-pending|mesh)/);

    const flipped = await eventually(
      async () => {
        const a = await dig(s.dns, '127.0.0.11', 'reviews.service.consul');
        assert.ok(a.length === 1 && a[0]!.startsWith('10.96.'), `one ClusterIP, got ${a.join(',') || 'nothing'}`);
        return a;
      },
      'the ClusterIP answer once the Sidecar is ready',
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    assert.equal(flipped.length, 1);

    const legacy = await dig(s.dns, '127.0.0.20', 'reviews.service.consul');
    assert.ok(legacy.every((a) => a.startsWith('10.20.')), 'the unmeshed caller still gets HAProxy');

    const written = parseAllDocuments(await readFile(join(dir, 'state', 'sidecars.yaml'), 'utf8')).map((d) => d.toJS() as { metadata: { name: string; namespace: string; labels: Record<string, string> }; spec: { egress: Array<{ hosts: string[] }> } });
    const frontend = written.find((o) => o.metadata.namespace === 'shop' && o.metadata.name === 'frontend');
    assert.ok(frontend, 'a Sidecar for shop/frontend');
    assert.equal(frontend.metadata.labels['app.kubernetes.io/managed-by'], 'discovery');
    assert.ok(frontend.spec.egress[0]!.hosts.includes('bookinfo/reviews.bookinfo.svc.cluster.local'));
    assert.ok(written.every((o) => o.metadata.labels['app.kubernetes.io/managed-by'] === 'discovery'), 'only managed Sidecars are written');
    assert.ok(!written.some((o) => o.metadata.name === 'payments-egress'), 'the user-owned Sidecar is never written');

    const yamlOut = await run(['sidecars', '-n', 'shop'], { DISCOVERY_ADMIN_ADDR: s.admin });
    assert.match(yamlOut.stdout, /kind: Sidecar/);
    assert.match(yamlOut.stdout, /bookinfo\/reviews\.bookinfo\.svc\.cluster\.local/);

    assert.equal(await s.stop('SIGTERM'), 0);
    s = await startServe(['--config', config]);
    const again = await dig(s.dns, '127.0.0.11', 'reviews.service.consul');
    assert.deepEqual(again, flipped, 'after a restart the ready pair answers the ClusterIP at once');
  } finally {
    await s.stop('SIGKILL');
  }
});
