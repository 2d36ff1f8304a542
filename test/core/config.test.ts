// Configuration: defaults < file < env < flags; every bad value names its key and source.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.ts';

async function file(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'discovery-config-'));
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
