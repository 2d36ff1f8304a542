// The RBAC of deploy/ is exactly what live mode uses. A replica built as `discovery serve` builds it
// (the live Kubernetes source, the Kubernetes Sidecar sink and the Lease elector, on the Kubernetes
// test double) goes through everything it does with the API: start-up lists and watches, Sidecar
// creates, updates and deletes, the Lease taken, renewed and released. Every request in the
// double's log must be allowed by the rendered rules for Discovery's service account, and every
// grant of those rules must have been used by some request.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '../support/eventually.ts';
import { routeResource } from '../support/kube-double/routes.ts';
import { isWatchQuery } from '../support/kube-double/stats.ts';
import { sidecarObject } from '../sources/kube-live-fixtures.ts';
import { MESHED_CALLER, request, startDoubles, startReplica, type Doubles, type Replica } from '../live/live-harness.ts';
import { render, type KubeObject } from './kustomize.ts';
import { RbacPolicy, describeGrant, describeRequest, grantAllows, verbOf, type ResourceRequest } from './rbac.ts';
import { validateSidecar } from './schemas.ts';

const SUBJECT = { kind: 'ServiceAccount', namespace: 'discovery', name: 'discovery' } as const;
const SIDECAR_API = 'networking.istio.io/v1';

let objects: KubeObject[];
before(async () => {
  objects = await render('overlays/live');
});

describe('the RBAC evaluator', () => {
  it('reads the rendered rules and can refuse', () => {
    const policy = RbacPolicy.forSubject(objects, SUBJECT);
    const lease = (verb: string, namespace: string | null, name: string | null): ResourceRequest => ({ verb, group: 'coordination.k8s.io', resource: 'leases', namespace, name });
    assert.equal(policy.allows(lease('get', 'discovery', 'discovery-reconciler')), true);
    assert.equal(policy.allows(lease('get', 'discovery', 'someone-else')), false, 'resourceNames narrows get to one Lease');
    assert.equal(policy.allows(lease('get', 'bookinfo', 'discovery-reconciler')), false, 'a Role grants in its own namespace only');
    assert.equal(policy.allows(lease('list', 'discovery', null)), false, 'a named rule never covers a list');
    assert.equal(policy.allows(lease('create', null, null)), false, 'a namespaced grant never covers cluster scope');
    assert.equal(policy.allows({ verb: 'patch', group: 'networking.istio.io', resource: 'sidecars', namespace: 'bookinfo', name: 'x' }), false);
    assert.equal(policy.allows({ verb: 'list', group: '', resource: 'pods', namespace: null, name: null }), true);
    assert.equal(policy.allows({ verb: 'get', group: '', resource: 'secrets', namespace: 'discovery', name: 'x' }), false);
    const other = RbacPolicy.forSubject(objects, { ...SUBJECT, name: 'default' });
    assert.equal(other.grants().length, 0, 'nothing is granted to another service account');
  });
});

/** A resource request from one line of the double's log; null for a path that names no resource. */
function requestOf(entry: { method: string; path: string; query: Record<string, string> }): ResourceRequest | null {
  const target = routeResource(entry.path);
  if (!target) return null;
  if (target.subresource !== null) throw new Error(`live mode used a subresource: ${entry.method} ${entry.path}`);
  return {
    verb: verbOf(entry.method, isWatchQuery(entry.query), target.name !== null),
    group: target.type.group,
    resource: target.type.plural,
    namespace: target.namespace,
    name: target.name,
  };
}

function egressHosts(obj: object | null): string[] {
  const spec = (obj as { spec?: { egress?: Array<{ hosts?: string[] }> } } | null)?.spec;
  return [...(spec?.egress?.[0]?.hosts ?? [])].sort();
}

async function leading(r: Replica): Promise<void> {
  const res = await request(r.adminUrl(), '/readyz');
  assert.equal(res.status, 200, res.body);
  const body = JSON.parse(res.body) as { lease?: { leader?: boolean } };
  assert.equal(body.lease?.leader, true, 'the replica holds the Lease');
}

describe('live mode against the Kubernetes double', () => {
  let d: Doubles;
  let replica: Replica | null = null;
  before(async () => {
    d = await startDoubles();
  });
  after(async () => {
    await replica?.stop();
    await d.close();
  });

  it('every request is allowed by deploy/ RBAC, and every grant is used', async () => {
    replica = await startReplica(d, 'replica-a', { 'sidecars.namespace-defaults': 'true' });
    await eventually(() => leading(replica!), 'the replica to be ready and hold the Lease', { timeoutMs: 15_000 });

    // Sidecar create (reviews), then update (details) of the meshed caller's Sidecar.
    await request(replica.httpUrl(), '/v1/health/service/reviews', { from: MESHED_CALLER });
    await eventually(() => assert.deepEqual(egressHosts(d.kube.get(SIDECAR_API, 'Sidecar', 'bookinfo', 'productpage')), ['bookinfo/reviews.bookinfo.svc.cluster.local', 'istio-system/*']), 'the Sidecar to be created');
    await request(replica.httpUrl(), '/v1/health/service/details', { from: MESHED_CALLER });
    await eventually(
      () => assert.deepEqual(egressHosts(d.kube.get(SIDECAR_API, 'Sidecar', 'bookinfo', 'productpage')), ['bookinfo/details.bookinfo.svc.cluster.local', 'bookinfo/reviews.bookinfo.svc.cluster.local', 'istio-system/*']),
      'the Sidecar to be updated',
    );

    // Namespace defaults: written by the leader, and deleted when a person adds a namespace-wide one.
    await eventually(() => assert.ok(d.kube.get(SIDECAR_API, 'Sidecar', 'bookinfo', 'discovery-default'), 'default written'), 'the namespace default in bookinfo');
    d.kube.create(sidecarObject('bookinfo', 'team-default', ['./*', 'istio-system/*']));
    await eventually(() => assert.equal(d.kube.get(SIDECAR_API, 'Sidecar', 'bookinfo', 'discovery-default'), null), 'Discovery to delete its namespace default');

    // What Discovery wrote is valid for Istio.
    const written = d.kube.list(SIDECAR_API, 'Sidecar').filter((s) => (s as KubeObject).metadata.labels?.['app.kubernetes.io/managed-by'] === 'discovery');
    assert.ok(written.length >= 2);
    for (const s of written) validateSidecar(s as KubeObject);

    // Stopping releases the Lease (one more update).
    await replica.stop();
    replica = null;

    const log = d.kube.stats.log();
    const nonResource = log.filter((e) => requestOf(e) === null).map((e) => `${e.method} ${e.path}`);
    assert.deepEqual(nonResource, [], 'live mode only makes resource requests');
    const requests = log.map((e) => requestOf(e)!);
    const policy = RbacPolicy.forSubject(objects, SUBJECT);
    const denied = [...new Set(requests.filter((r) => !policy.allows(r)).map(describeRequest))];
    assert.deepEqual(denied, [], 'requests deploy/ RBAC does not allow');
    const unused = policy.grants().filter((g) => !requests.some((r) => grantAllows(g, r))).map(describeGrant);
    assert.deepEqual(unused, [], 'grants no request used');

    // The run did go through each kind of request (so the two checks above had something to see).
    const seen = new Set(requests.map((r) => `${r.verb} ${r.resource}`));
    for (const v of ['list namespaces', 'watch pods', 'get sidecars', 'create sidecars', 'update sidecars', 'delete sidecars', 'get leases', 'create leases', 'update leases']) {
      assert.ok(seen.has(v), `the run made a request: ${v}`);
    }
  });
});
