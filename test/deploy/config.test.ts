// The configuration each overlay ships loads through Discovery's own loader, with the environment
// its Deployment gives the container (downward API values and Secrets filled in, $(VAR) expanded as
// the kubelet does), and agrees with the Pod: listener ports are the container ports, the state dir
// is the emptyDir, the Consul token file is in the Secret's mount. The demo overlay's files then
// really serve the demo world through `discovery serve`.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadConfig } from '../../src/config/load.ts';
import { parseHostPort } from '../../src/platform/host-port.ts';
import { ROOT, startServe } from '../support/process.ts';
import { addressesOf, request } from '../live/live-harness.ts';
import { configMapData, one, podTemplate, render, type Container, type KubeObject, type PodTemplate } from './kustomize.ts';

const CONFIG_PATH = '/etc/discovery/config/discovery.yaml';
const ADMIN_TOKEN = 'a-test-admin-token-of-some-length';
/** What the downward API would give this Pod. */
const FIELDS: Record<string, string> = { 'metadata.name': 'discovery-6c9f7d8b5-x2kqp', 'metadata.namespace': 'discovery', 'status.hostIP': '10.0.0.7' };

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'discovery-deploy-config-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The container's environment as the kubelet builds it: in order, each $(NAME) of an earlier variable expanded. */
function containerEnv(c: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    let value: string;
    if (e.value !== undefined) value = e.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => env[name] ?? whole);
    else if (e.valueFrom?.fieldRef) {
      const v = FIELDS[e.valueFrom.fieldRef.fieldPath];
      if (v === undefined) throw new Error(`no test value for the downward API field ${e.valueFrom.fieldRef.fieldPath}`);
      value = v;
    } else if (e.valueFrom?.secretKeyRef?.name === 'discovery-admin-token') value = ADMIN_TOKEN;
    else throw new Error(`no test value for env ${e.name}`);
    env[e.name] = value;
  }
  return env;
}

function mountOf(t: PodTemplate, volume: (v: NonNullable<PodTemplate['spec']['volumes']>[number]) => boolean): string {
  const v = t.spec.volumes?.find(volume);
  const m = t.spec.containers[0]!.volumeMounts?.find((x) => x.name === v?.name);
  if (!m) throw new Error('volume not mounted');
  return m.mountPath;
}

/** Writes the overlay's config file where the Pod would see it, under `root`. */
async function writeConfig(objects: KubeObject[], root: string): Promise<string> {
  const file = join(root, CONFIG_PATH);
  await mkdir(dirname(file), { recursive: true });
  const text = configMapData(one(objects, 'ConfigMap', 'discovery-config'))['discovery.yaml'];
  assert.ok(text, 'the ConfigMap holds discovery.yaml');
  await writeFile(file, text);
  return file;
}

describe('the shipped configuration loads as the Pod would load it', () => {
  it('live: the agent at the node IP, in-cluster Kubernetes, ports, state dir and token file match the Pod', async () => {
    const objects = await render('overlays/live');
    const t = podTemplate(one(objects, 'Deployment'));
    const c = t.spec.containers[0]!;
    assert.deepEqual(c.args, ['serve', '--config', CONFIG_PATH]);
    assert.equal(mountOf(t, (v) => v.configMap?.name.startsWith('discovery-config') ?? false), dirname(CONFIG_PATH));
    const root = join(dir, 'live');
    const config = await loadConfig({ configFile: await writeConfig(objects, root), env: containerEnv(c), cwd: '/' });

    assert.equal(config.consulAddr, 'http://10.0.0.7:8500');
    assert.equal(config.kubeInCluster, true);
    assert.equal(config.kubeconfig, null);
    assert.equal(config.namespace, 'discovery', 'the Lease lives in the Pod\'s namespace, where the Role is');
    assert.equal(config.namespace, one(objects, 'Role').metadata.namespace);
    assert.equal(config.replicaId, FIELDS['metadata.name']);
    assert.equal(config.adminToken, ADMIN_TOKEN);
    const port = (name: string) => c.ports?.find((p) => p.name === name)?.containerPort;
    assert.equal(parseHostPort(config.httpAddr)?.port, port('http'));
    assert.equal(parseHostPort(config.dnsAddr)?.port, port('dns-udp'));
    assert.equal(parseHostPort(config.dnsAddr)?.port, port('dns-tcp'));
    assert.equal(parseHostPort(config.adminAddr)?.port, port('admin'));
    assert.equal(parseHostPort(config.adminAddr)?.host, '0.0.0.0', 'kubelet probes and the admin Service reach it');
    assert.equal(config.stateDir, mountOf(t, (v) => v.emptyDir !== undefined && v.name === 'state'));
    assert.equal(dirname(config.consulTokenFile ?? ''), mountOf(t, (v) => v.secret?.secretName === 'discovery-consul-token'));
    assert.deepEqual(config.dns.trustedEcsResolvers, [], 'no resolver is trusted until the operator lists the node-local ones');
  });

  it('live: without the admin token Secret the config is refused (admin listener off loopback)', async () => {
    const objects = await render('overlays/live');
    const c = podTemplate(one(objects, 'Deployment')).spec.containers[0]!;
    const env = containerEnv(c);
    delete env['DISCOVERY_ADMIN_TOKEN'];
    await assert.rejects(loadConfig({ configFile: await writeConfig(objects, join(dir, 'no-token')), env, cwd: '/' }), /admin-addr.*DISCOVERY_ADMIN_TOKEN/);
  });

  it('demo: the world files from the ConfigMap are found next to the config, and serve answers from them', async () => {
    const objects = await render('overlays/demo');
    const t = podTemplate(one(objects, 'Deployment'));
    const root = join(dir, 'demo');
    const file = await writeConfig(objects, root);
    const worldDir = join(root, mountOf(t, (v) => v.configMap?.name === 'discovery-demo-world'));
    await mkdir(worldDir, { recursive: true });
    for (const [name, text] of Object.entries(configMapData(one(objects, 'ConfigMap', 'discovery-demo-world')))) await writeFile(join(worldDir, name), text);

    const config = await loadConfig({ configFile: file, env: containerEnv(t.spec.containers[0]!), cwd: '/' });
    assert.equal(config.consulSnapshot, join(worldDir, 'consul.json'));
    assert.equal(config.kubeSnapshot, join(worldDir, 'kube.yaml'));
    assert.equal(config.consulAddr, null);
    assert.equal(config.kubeInCluster, false);

    // The same files through `discovery serve` (listeners moved to loopback, state dir to a temp dir).
    const served = await startServe(['--config', file, '--state-dir', join(root, 'state')], { DISCOVERY_ADMIN_TOKEN: ADMIN_TOKEN });
    try {
      const registrations = JSON.parse(await readFile(join(ROOT, 'examples/demo/consul.json'), 'utf8')) as Array<{ Address: string; Service?: { Service: string; Address?: string } }>;
      const haproxy = registrations.filter((r) => r.Service?.Service === 'reviews').map((r) => r.Service?.Address || r.Address).sort();
      assert.ok(haproxy.length > 0);
      const answer = await request(`http://${served.http}`, '/v1/health/service/reviews', { from: '127.0.0.20' });
      assert.equal(answer.status, 200, answer.body);
      assert.deepEqual(addressesOf(answer), haproxy);
    } finally {
      await served.stop();
    }
  });
});
