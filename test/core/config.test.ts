// Configuration: defaults < file < env < flags; every bad value names its key and source.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function file(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'discovery-config-'));
  dirs.push(dir);
  const f = join(dir, 'discovery.yaml');
  await writeFile(f, text);
  return f;
}

test('config: defaults match the issue (8500, 8600, 8580, dc1)', async () => {
  const c = await loadConfig({ env: {} });
  assert.equal(c.httpAddr, '127.0.0.1:8500');
  assert.equal(c.dnsAddr, '127.0.0.1:8600');
  assert.equal(c.adminAddr, '127.0.0.1:8580');
  assert.equal(c.datacenter, 'dc1');
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.dns));
});

test('config: file < env < flags; relative snapshot paths resolve against the config file', async () => {
  const f = await file('datacenter: east\nhttp-addr: 127.0.0.1:9500\nconsul-snapshot: consul.json\ndns:\n  node-ttl: 30s\n  service-ttl:\n    "web*": 5s\nsidecars:\n  enabled: true\n  quiet-period: 250ms\n');
  const c = await loadConfig({ configFile: f, env: { DISCOVERY_HTTP_ADDR: '127.0.0.1:9600' }, flags: { datacenter: 'west' } });
  assert.equal(c.datacenter, 'west');
  assert.equal(c.httpAddr, '127.0.0.1:9600');
  assert.equal(c.consulSnapshot, join(f, '..', 'consul.json'));
  assert.equal(c.dns.nodeTtl, 30);
  assert.deepEqual(c.dns.serviceTtl, { 'web*': 5 });
  assert.equal(c.sidecars.enabled, true);
  assert.equal(c.sidecars.quietPeriodMs, 250);
});

const bad: Array<[string, string, RegExp]> = [
  ['unknown key', 'htp-addr: 1.2.3.4:1\n', /htp-addr: unknown setting/],
  ['bad address', 'http-addr: localhost\n', /http-addr: must be host:port/],
  ['port out of range', 'dns-addr: 127.0.0.1:70000\n', /dns-addr: must be host:port/],
  ['bad duration', 'dns:\n  node-ttl: 10\n', /dns\.node-ttl: must be a duration/],
  ['bad enum', 'mesh-rule: most\n', /mesh-rule: must be "any" or "all"/],
  ['unknown nested key', 'dns:\n  ttl: 1s\n', /dns\.ttl: unknown setting/],
  ['not a mapping', '- a\n- b\n', /must be a YAML mapping/],
  ['YAML syntax', 'a: [1, 2\n', /line \d/],
  ['token in a file', 'admin-token: abc\n', /DISCOVERY_ADMIN_TOKEN only/],
  ['int out of range', 'dns:\n  max-udp-size: 100\n', /at least 512/],
  ['consul-addr not a URL', 'consul-addr: 127.0.0.1:8500\n', /consul-addr: must be an http:\/\/ or https:\/\/ URL/],
  ['consul-addr with a token in it', 'consul-addr: http://user:secret@127.0.0.1:8500\n', /consul-addr: must not carry credentials/],
  ['consul-addr with a path', 'consul-addr: http://127.0.0.1:8500/v1\n', /consul-addr: must be the agent address only/],
  ['consul-addr and consul-snapshot', 'consul-addr: http://127.0.0.1:8500\nconsul-snapshot: c.json\n', /consul-addr: and consul-snapshot are both set/],
  ['kubeconfig and kube-snapshot', 'kubeconfig: kc.yaml\nkube-snapshot: k.yaml\n', /kubeconfig: and kube-snapshot are both set/],
  ['kube-in-cluster and kubeconfig', 'kubeconfig: kc.yaml\nkube-in-cluster: true\n', /kube-in-cluster: and kubeconfig are both set/],
  ['control-key with a leading slash', 'control-key: /discovery/control\n', /control-key: must be a Consul KV key/],
  ['live connections over the agent limit', 'live:\n  max-upstream-connections: 500\n', /live\.max-upstream-connections: must be at most 190/],
];

for (const [name, text, re] of bad) {
  test(`config: rejects ${name} with a message naming the key`, async () => {
    await assert.rejects(loadConfig({ configFile: await file(text), env: {} }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'DSC_ERR_CONFIG');
      assert.match(err.message, re);
      return true;
    });
  });
}

test('config: admin API off loopback needs a token', async () => {
  await assert.rejects(loadConfig({ env: {}, flags: { 'admin-addr': '0.0.0.0:8580' } }), /set DISCOVERY_ADMIN_TOKEN/);
  const c = await loadConfig({ env: { DISCOVERY_ADMIN_TOKEN: 'a-long-enough-token-123' }, flags: { 'admin-addr': '0.0.0.0:8580' } });
  assert.equal(c.adminToken, 'a-long-enough-token-123');
  await assert.rejects(loadConfig({ env: { DISCOVERY_ADMIN_TOKEN: 'short' } }), /at least 16/);
});

test('config: missing config file is a clear error', async () => {
  await assert.rejects(loadConfig({ configFile: '/nonexistent/discovery.yaml', env: {} }), /cannot read config file .*ENOENT/);
});

test('config: live knobs, with Pod identity from the downward API unless set', async () => {
  const f = await file('consul-addr: https://consul.local:8501/\nkubeconfig: kc.yaml\nlive:\n  watch-wait: 2s\n  acl-check: false\n');
  const c = await loadConfig({ configFile: f, env: { POD_NAMESPACE: 'mesh-system', POD_NAME: 'discovery-7f9-abc' } });
  assert.equal(c.consulAddr, 'https://consul.local:8501');
  assert.equal(c.kubeconfig, join(f, '..', 'kc.yaml'));
  assert.equal(c.namespace, 'mesh-system');
  assert.equal(c.replicaId, 'discovery-7f9-abc');
  assert.equal(c.controlKey, 'discovery/control');
  assert.equal(c.kubeStaleAfterMs, 60_000);
  assert.equal(c.live.watchWaitMs, 2000);
  assert.equal(c.live.aclCheck, false);
  assert.equal(c.live.maxUpstreamConnections, 64);
  const d = await loadConfig({ env: { DISCOVERY_REPLICA_ID: 'r2', DISCOVERY_CONSUL_ADDR: 'http://127.0.0.1:8500' } });
  assert.equal(d.namespace, 'discovery');
  assert.equal(d.replicaId, 'r2');
  assert.equal(d.consulAddr, 'http://127.0.0.1:8500');
  assert.equal((await loadConfig({ env: {} })).replicaId, hostname());
});
