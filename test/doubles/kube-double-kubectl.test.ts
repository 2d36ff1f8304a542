// kubectl as an independent client of the Kubernetes API double: discovery, lists as JSON and YAML,
// create from a file (with kubectl's default validation) and a watch (`get -w`). kubectl reads a
// kubeconfig file pointing at the double's TLS listener (client-go sends tokens only over TLS).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { KubeDouble } from '../support/kube-double/index.ts';
import { eventually } from '../support/eventually.ts';
import { meta, namespace, pod, sidecar } from './kube-fixtures.ts';

const KUBECTL_MISSING = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).error !== undefined;
const skip = KUBECTL_MISSING ? 'kubectl is not installed (scripts/test-prerequisites.sh installs it as root: apt-get install kubernetes-client)' : false;

let kube: KubeDouble;
let dir: string;

before(async () => {
  if (KUBECTL_MISSING) return;
  kube = await KubeDouble.start();
  dir = await mkdtemp(join(tmpdir(), 'kube-double-kubectl-'));
  await kube.writeKubeconfig(join(dir, 'kubeconfig'));
  kube.create(namespace('x'));
  kube.create(pod('x', 'web-1', { app: 'web' }, '10.0.0.1'));
  kube.create(pod('y', 'db-1', { app: 'db' }, '10.0.0.2'));
  kube.create(sidecar('x', 'default', ['./*', 'istio-system/*']));
});

after(async () => {
  if (KUBECTL_MISSING) return;
  await kube.close();
  await rm(dir, { recursive: true, force: true });
});

function kubectlArgs(args: string[]): string[] {
  return ['--kubeconfig', join(dir, 'kubeconfig'), '--cache-dir', join(dir, 'cache'), ...args];
}

function kubectl(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile('kubectl', kubectlArgs(args), { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`kubectl ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

test('kubectl get pods -A -o json lists every Pod', { skip }, async () => {
  const { stdout } = await kubectl(['get', 'pods', '-A', '-o', 'json']);
  const list = JSON.parse(stdout) as { items: Array<{ metadata: { namespace: string; name: string }; status: { podIP: string } }> };
  assert.deepEqual(list.items.map((p) => `${p.metadata.namespace}/${p.metadata.name} ${p.status.podIP}`), ['x/web-1 10.0.0.1', 'y/db-1 10.0.0.2']);
  assert.ok(kube.stats.requests({ pathPrefix: '/api/v1' }) > 0);
});

test('kubectl get sidecars.networking.istio.io -n x -o yaml shows the custom resource', { skip }, async () => {
  const { stdout } = await kubectl(['get', 'sidecars.networking.istio.io', '-n', 'x', '-o', 'yaml']);
  const list = parseYaml(stdout) as { items: Array<{ kind: string; metadata: { name: string; generation: number }; spec: unknown }> };
  assert.equal(list.items.length, 1);
  assert.equal(list.items[0]?.kind, 'Sidecar');
  assert.equal(list.items[0]?.metadata.generation, 1);
  assert.deepEqual(list.items[0]?.spec, { egress: [{ hosts: ['./*', 'istio-system/*'] }] });
});

test('kubectl create -f a Sidecar stores it; a second create is AlreadyExists', { skip }, async () => {
  const file = join(dir, 'sidecar.json');
  await writeFile(file, JSON.stringify(sidecar('x', 'from-kubectl', ['shop/*'])));
  const { stdout } = await kubectl(['create', '-f', file]);
  assert.match(stdout, /sidecar\.networking\.istio\.io\/from-kubectl created/);
  const stored = kube.get('networking.istio.io/v1', 'Sidecar', 'x', 'from-kubectl');
  assert.ok(stored);
  assert.equal(typeof meta(stored).uid, 'string');
  await assert.rejects(kubectl(['create', '-f', file]), /AlreadyExists|already exists/);
});

test('kubectl get pods -w prints an event that happens while it watches', { skip }, async () => {
  const child = spawn('kubectl', kubectlArgs(['get', 'pods', '-n', 'x', '-w']), { stdio: ['ignore', 'pipe', 'pipe'] });
  const hardStop = setTimeout(() => child.kill('SIGKILL'), 30_000);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  try {
    await eventually(() => assert.equal(kube.stats.openWatches(), 1, `kubectl has not opened its watch; stderr: ${stderr}`), 'kubectl watching', { timeoutMs: 15_000 });
    assert.match(stdout, /web-1/);
    kube.create(pod('x', 'arrived-while-watching'));
    await eventually(() => assert.match(stdout, /arrived-while-watching/), 'the watch event line', { timeoutMs: 10_000 });
  } finally {
    clearTimeout(hardStop);
    child.kill('SIGTERM');
    await exited;
  }
});
