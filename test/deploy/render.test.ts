// deploy/ renders with the real `kubectl kustomize`, every object matches the Kubernetes schema of
// its kind, and the objects fit together the way the issue asks: spread replicas, probes on the
// admin port, non-root and read-only, never injected, Services that reach the Pods' ports, an
// admin port closed to the fleet, references that resolve.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from '../support/process.ts';
import { ALL_TREES, DEPLOY, configMapData, ofKind, one, podTemplate, render, type KubeObject, type PodTemplate } from './kustomize.ts';
import { validateObject } from './schemas.ts';

const rendered = new Map<string, KubeObject[]>();
before(async () => {
  for (const tree of ALL_TREES) rendered.set(tree, await render(tree));
});
after(() => rendered.clear());

function tree(name: string): KubeObject[] {
  const objects = rendered.get(name);
  if (!objects) throw new Error(`deploy/${name} was not rendered`);
  return objects;
}

function matches(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** Names of the ConfigMaps and Secrets a Pod template reads (volumes and env). */
function references(t: PodTemplate): { configMaps: Set<string>; secrets: Set<string> } {
  const configMaps = new Set<string>();
  const secrets = new Set<string>();
  for (const v of t.spec.volumes ?? []) {
    if (v.configMap) configMaps.add(v.configMap.name);
    if (v.secret) secrets.add(v.secret.secretName);
  }
  for (const c of t.spec.containers) {
    for (const e of c.env ?? []) {
      if (e.valueFrom?.secretKeyRef) secrets.add(e.valueFrom.secretKeyRef.name);
      if (e.valueFrom?.configMapKeyRef) configMaps.add(e.valueFrom.configMapKeyRef.name);
    }
  }
  return { configMaps, secrets };
}

describe('deploy/ renders and validates', () => {
  it('every tree renders, and every object matches its Kubernetes schema', () => {
    for (const name of ALL_TREES) {
      const objects = tree(name);
      assert.ok(objects.length > 0, `deploy/${name} rendered nothing`);
      for (const o of objects) validateObject(o);
    }
  });

  it('the schema check rejects a broken object (the check above can fail)', () => {
    const d = structuredClone(one(tree('overlays/live'), 'Deployment')) as Record<string, unknown> & KubeObject;
    (d['spec'] as Record<string, unknown>)['replicas'] = 'three';
    assert.throws(() => validateObject(d), /replicas must be integer/);
    assert.throws(() => validateObject({ apiVersion: 'example.com/v1', kind: 'Thing', metadata: { name: 'x' } }), /no schema known/);
  });

  it('live: three replicas, one per node, a PDB that lets one go at a time', () => {
    const objects = tree('overlays/live');
    const d = one(objects, 'Deployment');
    const spec = d['spec'] as { replicas: number; selector: { matchLabels: Record<string, string> } };
    assert.equal(spec.replicas, 3);
    const t = podTemplate(d);
    const byHost = t.spec.topologySpreadConstraints?.find((c) => c.topologyKey === 'kubernetes.io/hostname');
    assert.equal(byHost?.whenUnsatisfiable, 'DoNotSchedule');
    assert.equal(byHost?.maxSkew, 1);
    assert.ok(matches(byHost?.labelSelector?.matchLabels, t.metadata.labels), 'the spread constraint counts these Pods');
    const pdb = one(objects, 'PodDisruptionBudget')['spec'] as { maxUnavailable?: number; selector: { matchLabels: Record<string, string> } };
    assert.equal(pdb.maxUnavailable, 1);
    assert.ok(matches(pdb.selector.matchLabels, t.metadata.labels), 'the PDB selects the Pods');
    assert.ok(matches(spec.selector.matchLabels, t.metadata.labels));
  });

  it('every Pod Discovery ships is never injected with a sidecar, nor is its namespace', () => {
    for (const name of ALL_TREES) {
      for (const w of [...ofKind(tree(name), 'Deployment'), ...ofKind(tree(name), 'DaemonSet')]) {
        const t = podTemplate(w);
        assert.equal(t.metadata.labels?.['sidecar.istio.io/inject'], 'false', `${name} ${w.metadata.name}: label`);
        assert.equal(t.metadata.annotations?.['sidecar.istio.io/inject'], 'false', `${name} ${w.metadata.name}: annotation`);
      }
    }
    assert.equal(one(tree('overlays/live'), 'Namespace').metadata.labels?.['istio-injection'], 'disabled');
  });

  it('probes: readiness /readyz and liveness /healthz on the admin port', () => {
    for (const name of ['overlays/live', 'overlays/demo']) {
      const c = podTemplate(one(tree(name), 'Deployment')).spec.containers[0]!;
      const admin = c.ports?.find((p) => p.name === 'admin');
      assert.equal(admin?.containerPort, 8580);
      assert.deepEqual(c.readinessProbe?.httpGet, { path: '/readyz', port: 'admin' });
      assert.deepEqual(c.livenessProbe?.httpGet, { path: '/healthz', port: 'admin' });
      assert.ok(c.resources?.requests?.['cpu'] && c.resources.requests['memory'] && c.resources.limits?.['memory'], `${name}: resources`);
    }
  });

  it('non-root, read-only root filesystem, no privileges; the state dir and /tmp are emptyDirs', () => {
    for (const name of ['overlays/live', 'overlays/demo', 'dns/unbound']) {
      const workload = [...ofKind(tree(name), 'Deployment'), ...ofKind(tree(name), 'DaemonSet')];
      assert.equal(workload.length, 1);
      const t = podTemplate(workload[0]!);
      assert.equal(t.spec.securityContext?.runAsNonRoot, true, name);
      assert.ok((t.spec.securityContext?.runAsUser ?? 0) > 0, name);
      for (const c of t.spec.containers) {
        assert.equal(c.securityContext?.readOnlyRootFilesystem, true, name);
        assert.equal(c.securityContext?.allowPrivilegeEscalation, false, name);
        assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], name);
        for (const m of c.volumeMounts ?? []) assert.ok(t.spec.volumes?.some((v) => v.name === m.name), `${name}: mount ${m.name} has a volume`);
      }
    }
    const t = podTemplate(one(tree('overlays/live'), 'Deployment'));
    const mounts = new Map(t.spec.containers[0]!.volumeMounts!.map((m) => [m.mountPath, m.name]));
    const volume = (path: string) => t.spec.volumes!.find((v) => v.name === mounts.get(path));
    assert.ok(volume('/var/lib/discovery')?.emptyDir, 'state dir on an emptyDir');
    assert.ok(volume('/tmp')?.emptyDir, '/tmp on an emptyDir');
  });

  it('every ConfigMap a Pod reads is rendered; the Secrets that are not are the two an operator creates', () => {
    const expectedMissing: Record<string, string[]> = {
      'overlays/live': ['discovery-admin-token', 'discovery-consul-token'],
      'overlays/demo': [],
      'dns/unbound': [],
    };
    for (const [name, missing] of Object.entries(expectedMissing)) {
      const objects = tree(name);
      const workload = [...ofKind(objects, 'Deployment'), ...ofKind(objects, 'DaemonSet')][0]!;
      const refs = references(podTemplate(workload));
      for (const cm of refs.configMaps) assert.ok(ofKind(objects, 'ConfigMap').some((o) => o.metadata.name === cm), `${name}: ConfigMap ${cm} is rendered`);
      const notRendered = [...refs.secrets].filter((s) => !ofKind(objects, 'Secret').some((o) => o.metadata.name === s)).sort();
      assert.deepEqual(notRendered, missing, `${name}: Secrets left to the operator`);
    }
  });

  it('Services reach the Pods: selectors match, target ports exist; DNS over UDP and TCP', () => {
    for (const name of ['overlays/live', 'overlays/demo', 'dns/unbound']) {
      const objects = tree(name);
      const workload = [...ofKind(objects, 'Deployment'), ...ofKind(objects, 'DaemonSet')][0]!;
      const t = podTemplate(workload);
      const ports = t.spec.containers.flatMap((c) => c.ports ?? []);
      for (const svc of ofKind(objects, 'Service')) {
        const spec = svc['spec'] as { selector: Record<string, string>; ports: Array<{ name: string; port: number; targetPort: number | string; protocol: string }> };
        assert.ok(matches(spec.selector, t.metadata.labels), `${name}: Service ${svc.metadata.name} selects the Pods`);
        for (const p of spec.ports) {
          const target = ports.find((cp) => (typeof p.targetPort === 'string' ? cp.name === p.targetPort : cp.containerPort === p.targetPort) && (cp.protocol ?? 'TCP') === p.protocol);
          assert.ok(target, `${name}: Service ${svc.metadata.name} port ${p.name} reaches a container port of the same protocol`);
        }
      }
    }
    const fleet = one(tree('overlays/live'), 'Service', 'discovery')['spec'] as { ports: Array<{ port: number; protocol: string }> };
    const proto = (port: number) => fleet.ports.filter((p) => p.port === port).map((p) => p.protocol).sort();
    assert.deepEqual(proto(53), ['TCP', 'UDP']);
    assert.deepEqual(proto(8600), ['TCP', 'UDP']);
    assert.deepEqual(proto(8500), ['TCP']);
    assert.deepEqual(proto(8580), [], 'the fleet Service does not carry the admin port');
  });

  it('the admin Service is the one the ServiceMonitor in deploy/observability scrapes', async () => {
    const monitor = parse(await readFile(join(DEPLOY, 'observability/service-monitor.yaml'), 'utf8')) as {
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: Array<{ port: string; authorization?: { credentials?: { name: string; key: string } } }> };
    };
    const services = ofKind(tree('overlays/live'), 'Service').filter((s) => matches(monitor.spec.selector.matchLabels, s.metadata.labels));
    assert.deepEqual(services.map((s) => s.metadata.name), ['discovery-admin']);
    const ports = (services[0]!['spec'] as { ports: Array<{ name: string; port: number }> }).ports;
    assert.deepEqual(ports.map((p) => [p.name, p.port]), [[monitor.spec.endpoints[0]!.port, 8580]]);
    const token = podTemplate(one(tree('overlays/live'), 'Deployment')).spec.containers[0]!.env!.find((e) => e.name === 'DISCOVERY_ADMIN_TOKEN');
    assert.deepEqual(token?.valueFrom?.secretKeyRef, monitor.spec.endpoints[0]!.authorization?.credentials);
  });

  it('the NetworkPolicy opens the Consul ports to everyone and the admin port only to chosen sources', () => {
    const objects = tree('overlays/live');
    const policy = one(objects, 'NetworkPolicy')['spec'] as {
      podSelector: { matchLabels: Record<string, string> };
      policyTypes: string[];
      ingress: Array<{ from?: unknown[]; ports: Array<{ port: number; protocol: string }> }>;
    };
    assert.ok(matches(policy.podSelector.matchLabels, podTemplate(one(objects, 'Deployment')).metadata.labels));
    assert.deepEqual(policy.policyTypes, ['Ingress']);
    const open = policy.ingress.filter((r) => !r.from || r.from.length === 0);
    const openPorts = open.flatMap((r) => r.ports.map((p) => `${p.port}/${p.protocol}`)).sort();
    assert.deepEqual(openPorts, ['8500/TCP', '8600/TCP', '8600/UDP']);
    const adminRules = policy.ingress.filter((r) => r.ports.some((p) => p.port === 8580));
    assert.equal(adminRules.length, 1);
    assert.ok(adminRules[0]!.from && adminRules[0]!.from.length > 0, 'the admin port has a from list');
  });

  it('live: the Consul agent on the node (host IP), the cluster from the service account', () => {
    const t = podTemplate(one(tree('overlays/live'), 'Deployment'));
    const env = t.spec.containers[0]!.env!;
    const at = (n: string) => env.findIndex((e) => e.name === n);
    assert.equal(env[at('HOST_IP')]?.valueFrom?.fieldRef?.fieldPath, 'status.hostIP');
    assert.equal(env[at('DISCOVERY_CONSUL_ADDR')]?.value, 'http://$(HOST_IP):8500');
    assert.ok(at('HOST_IP') < at('DISCOVERY_CONSUL_ADDR'), 'HOST_IP is defined before the variable that expands it');
    assert.notEqual(t.spec.automountServiceAccountToken, false);
    assert.equal(t.spec.serviceAccountName, 'discovery');
  });

  it('demo: one replica, no API access, the world files are those of examples/demo', async () => {
    const objects = tree('overlays/demo');
    assert.equal((one(objects, 'Deployment')['spec'] as { replicas: number }).replicas, 1);
    assert.equal(podTemplate(one(objects, 'Deployment')).spec.automountServiceAccountToken, false);
    const world = configMapData(one(objects, 'ConfigMap', 'discovery-demo-world'));
    for (const file of ['consul.json', 'kube.yaml']) {
      assert.equal(world[file], await readFile(join(ROOT, 'examples/demo', file), 'utf8'), `${file} in the demo ConfigMap is examples/demo/${file}`);
    }
  });

  it('dns/unbound: on the node network, reached through a node-local Service', () => {
    const objects = tree('dns/unbound');
    const t = podTemplate(one(objects, 'DaemonSet'));
    assert.equal(t.spec.hostNetwork, true);
    const svc = one(objects, 'Service')['spec'] as { internalTrafficPolicy: string; ports: Array<{ port: number; protocol: string }> };
    assert.equal(svc.internalTrafficPolicy, 'Local');
    assert.deepEqual(svc.ports.map((p) => `${p.port}/${p.protocol}`).sort(), ['53/TCP', '53/UDP']);
    assert.match(configMapData(one(objects, 'ConfigMap'))['unbound.conf'] ?? '', /send-client-subnet/);
  });
});
