import assert from 'node:assert/strict';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { stringify } from 'yaml';
import type { DesiredInput, DesiredPolicy } from '../../src/reconcile/desired.ts';
import { desiredSidecar, namespaceDefaultSidecar } from '../../src/reconcile/desired.ts';
import type { ManagedSidecar } from '../../src/reconcile/managed-sidecar.ts';
import { parseSidecar, renderSidecar, validateSidecar } from '../../src/reconcile/managed-sidecar.ts';
import { stableSelector } from '../../src/reconcile/workload-labels.ts';
import { pod } from '../support/world-fixtures.ts';

const T0 = Date.parse('2026-03-01T00:00:00Z');
const GOLDEN_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../src/reconcile/testdata');
const H = (svc: string, ns = 'bookinfo') => `${ns}/${svc}.${ns}.svc.cluster.local`;
const POLICY: DesiredPolicy = { defaults: ['istio-system/*'], maxHosts: 500, expireAfterMs: 0, lastSeenResolutionMs: 24 * 3600_000 };
const WORKLOAD = { namespace: 'bookinfo', name: 'productpage', kind: 'Deployment', selector: { app: 'productpage' } };

function input(over: Partial<DesiredInput>): DesiredInput {
  return { workload: WORKLOAD, current: undefined, observed: new Map(), now: T0, policy: POLICY, sweep: false, deletionBudget: 50, ...over };
}

function built(over: Partial<DesiredInput>): ManagedSidecar {
  const r = desiredSidecar(input(over));
  assert.ok(r.ok);
  return r.sidecar;
}

async function golden(name: string, objects: object[]): Promise<void> {
  const text = objects.map((o) => `---\n${stringify(o, { lineWidth: 0 })}`).join('');
  const path = join(GOLDEN_DIR, `${name}.golden.yaml`);
  if (process.env['UPDATE_GOLDEN'] === '1') {
    await mkdir(GOLDEN_DIR, { recursive: true });
    await writeFile(path, text);
  }
  assert.equal(text, await readFile(path, 'utf8'), `${path} differs (UPDATE_GOLDEN=1 regenerates)`);
}

test('golden: a workload Sidecar with observed targets, defaults, sorted and de-duplicated', async () => {
  const observed = new Map([[H('reviews'), T0 - 1000], [H('ratings'), T0 - 500], [H('db', 'data'), T0]]);
  const s = built({ observed, policy: { ...POLICY, defaults: ['istio-system/*', 'istio-system/*'] } });
  const o = renderSidecar(s);
  validateSidecar(o);
  await golden('workload', [o]);
});

test('golden: expiry marks, namespace default', async () => {
  const policy = { ...POLICY, expireAfterMs: 3600_000, lastSeenResolutionMs: 360_000 };
  const current = built({ observed: new Map([[H('reviews'), T0], [H('ratings'), T0]]), policy });
  const later = T0 + 2 * 3600_000;
  const marked = built({ current, observed: new Map([[H('ratings'), later - 1000]]), now: later, policy, sweep: true });
  await golden('expiry-and-namespace-default', [renderSidecar(marked), renderSidecar(namespaceDefaultSidecar('web', 'discovery-default', ['istio-system/*'], undefined, T0))]);
});

test('render → parse round-trips every field the gate and expiry need', () => {
  const s = built({ observed: new Map([[H('reviews'), T0]]) });
  const back = parseSidecar(renderSidecar(s), POLICY.defaults, T0 + 99);
  assert.deepEqual(renderSidecar(back), renderSidecar(s));
  // An egress host with no recorded times (hand-edited) is kept and treated as just written.
  const edited = renderSidecar(s);
  const hosts = [...edited.spec.egress[0]!.hosts, H('extra')];
  const parsed = parseSidecar({ ...edited, spec: { ...edited.spec, egress: [{ hosts }] } }, POLICY.defaults, T0 + 99);
  assert.deepEqual(parsed.hosts.get(H('extra')), { lastSeen: T0 + 99, writtenAt: T0 + 99 });
});

test('Istio schema validation rejects a malformed Sidecar and an empty selector', () => {
  const o = renderSidecar(built({ observed: new Map([[H('reviews'), T0]]) }));
  assert.throws(() => validateSidecar({ ...o, spec: { egress: [{ hosts: 'x' as unknown as string[] }] } }));
  assert.throws(() => validateSidecar({ ...o, spec: { ...o.spec, workloadSelector: { labels: {} } } }));
});

test('never drops a current host without expiry; lookups alone do not change the object', () => {
  const current = built({ observed: new Map([[H('reviews'), T0], [H('ratings'), T0]]) });
  const next = desiredSidecar(input({ current, observed: new Map(), now: T0 + 365 * 86400_000, sweep: true }));
  assert.ok(next.ok);
  assert.deepEqual([...next.sidecar.hosts.keys()], [...current.hosts.keys()]);
  const renewed = built({ current, observed: new Map([[H('reviews'), T0 + 60_000]]), now: T0 + 60_000 });
  assert.deepEqual(renderSidecar(renewed), renderSidecar(current), 'lastSeen inside the resolution: no write');
});

test('expiry hysteresis: mark on one sweep, remove on a later one only if still unused; a lookup renews', () => {
  const policy = { ...POLICY, expireAfterMs: 1000, lastSeenResolutionMs: 100 };
  const c0 = built({ observed: new Map([[H('a'), T0], [H('b'), T0]]), policy });
  const notSweep = built({ current: c0, observed: new Map([[H('a'), T0], [H('b'), T0]]), now: T0 + 5000, policy });
  assert.equal(notSweep.hosts.get(H('a'))!.expiring, undefined, 'only sweeps mark');
  const r1 = desiredSidecar(input({ current: c0, observed: new Map([[H('a'), T0], [H('b'), T0]]), now: T0 + 5000, policy, sweep: true }));
  assert.ok(r1.ok);
  assert.deepEqual(r1.marked, [H('a'), H('b')]);
  assert.deepEqual(r1.removed, []);
  // b is looked up after the mark; a is not.
  const r2 = desiredSidecar(input({ current: r1.sidecar, observed: new Map([[H('a'), T0], [H('b'), T0 + 5500]]), now: T0 + 6000, policy, sweep: true }));
  assert.ok(r2.ok);
  assert.deepEqual(r2.removed, [H('a')]);
  assert.deepEqual(r2.renewed, [H('b')]);
  assert.deepEqual([...r2.sidecar.hosts.keys()], [H('b')]);
  assert.equal(r2.sidecar.hosts.get(H('b'))!.expiring, undefined);
});

test('deletions per cycle are capped', () => {
  const policy = { ...POLICY, expireAfterMs: 1000, lastSeenResolutionMs: 100 };
  const hosts = new Map(Array.from({ length: 5 }, (_, i) => [H(`s${i}`), T0] as [string, number]));
  const c0 = built({ observed: hosts, policy });
  const r1 = desiredSidecar(input({ current: c0, observed: hosts, now: T0 + 2000, policy, sweep: true }));
  assert.ok(r1.ok);
  const r2 = desiredSidecar(input({ current: r1.sidecar, observed: hosts, now: T0 + 3000, policy, sweep: true, deletionBudget: 2 }));
  assert.ok(r2.ok);
  assert.equal(r2.removed.length, 2);
  assert.equal(r2.sidecar.hosts.size, 3);
});

test('host cap: nothing beyond maxHosts is added, existing hosts are kept even over a lowered cap', () => {
  const observed = new Map([[H('a'), T0], [H('b'), T0], [H('c'), T0]]);
  const r = desiredSidecar(input({ observed, policy: { ...POLICY, maxHosts: 3 } }));
  assert.ok(r.ok);
  assert.deepEqual(r.added, [H('a'), H('b')]);
  assert.deepEqual(r.overCap, [H('c')]);
  const lowered = desiredSidecar(input({ current: r.sidecar, observed, policy: { ...POLICY, maxHosts: 1 } }));
  assert.ok(lowered.ok);
  assert.equal(lowered.sidecar.hosts.size, 2);
});

test('hosts already imported by a default are not listed again', () => {
  const r = desiredSidecar(input({ observed: new Map([['istio-system/istiod.istio-system.svc.cluster.local', T0], [H('a'), T0]]) }));
  assert.ok(r.ok);
  assert.deepEqual(r.added, [H('a')]);
});

test('stable selector: intersection of all Pods minus per-Pod, per-revision and injector labels', () => {
  const p = (labels: Record<string, string>) => pod('ns', 'x', '1.1.1.1', { labels });
  assert.deepEqual(
    stableSelector([
      p({ app: 'a', version: 'v1', 'pod-template-hash': '1', 'security.istio.io/tlsMode': 'istio', 'service.istio.io/canonical-revision': 'v1' }),
      p({ app: 'a', version: 'v2', 'pod-template-hash': '2' }),
    ]),
    { app: 'a' },
  );
  assert.deepEqual(stableSelector([p({ app: 'job', 'job-name': 'job-123', 'controller-uid': 'u', 'batch.kubernetes.io/job-name': 'job-123' })]), { app: 'job' });
  assert.deepEqual(stableSelector([p({ 'statefulset.kubernetes.io/pod-name': 'db-0', 'controller-revision-hash': 'h', 'apps.kubernetes.io/pod-index': '0' })]), null);
  assert.equal(stableSelector([]), null);
});

test('no selector known and none written: nothing to build', () => {
  const r = desiredSidecar(input({ workload: { ...WORKLOAD, selector: null }, observed: new Map([[H('a'), T0]]) }));
  assert.deepEqual(r, { ok: false, reason: 'no-selector' });
});
