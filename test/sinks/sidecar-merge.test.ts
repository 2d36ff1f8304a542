import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { HostRecord, ManagedSidecar } from '../../src/reconcile/managed-sidecar.ts';
import { ANN_HOSTS, parseSidecar, renderSidecar } from '../../src/reconcile/managed-sidecar.ts';
import { HOSTS_ANNOTATION, parseHostRecords } from '../../src/sinks/kubernetes/host-records.ts';
import { egressHosts, mergeSidecar, normalizeSidecar, sameSidecar } from '../../src/sinks/kubernetes/sidecar-merge.ts';
import type { SidecarObject, SidecarWrite } from '../../src/sinks/sidecar-sink.ts';

const T0 = Date.parse('2026-03-01T00:00:00Z');
const HOSTS = ['bookinfo/a.bookinfo.svc.cluster.local', 'bookinfo/b.bookinfo.svc.cluster.local', 'shop/c.shop.svc.cluster.local', 'shop/d.shop.svc.cluster.local', 'x/e.x.svc.cluster.local'];

function sidecar(hosts: Record<string, HostRecord>, over: Partial<ManagedSidecar> = {}): SidecarObject {
  return renderSidecar({
    namespace: 'bookinfo',
    name: 'productpage',
    workloadKind: 'Deployment',
    selector: { app: 'productpage' },
    selectorWrittenAt: T0,
    defaults: ['istio-system/*'],
    hosts: new Map(Object.entries(hosts)),
    ...over,
  });
}

const write = (object: SidecarObject, removedHosts: string[] = []): SidecarWrite => ({ object, removedHosts });
const records = (o: SidecarObject) => parseHostRecords(o.metadata.annotations[HOSTS_ANNOTATION]);

// Times from a small range so ties between replicas happen often.
const minute = fc.integer({ min: 0, max: 5 }).map((n) => T0 + n * 60_000);
const hostRecord: fc.Arbitrary<HostRecord> = fc
  .record({ lastSeen: minute, writtenAt: minute, expiring: fc.option(minute, { nil: undefined }) })
  .map((r) => (r.expiring === undefined ? { lastSeen: r.lastSeen, writtenAt: r.writtenAt } : r));
const hostMap = fc.dictionary(fc.constantFrom(...HOSTS), hostRecord, { maxKeys: HOSTS.length });
const object = hostMap.map((h) => sidecar(h));
const removed = fc.subarray(HOSTS);

test('the hosts annotation is the one the reconciler writes', () => {
  assert.equal(HOSTS_ANNOTATION, ANN_HOSTS);
});

test('merge (property): every host of the cluster or the write stays unless the write removes it; nothing else appears', () => {
  fc.assert(
    fc.property(fc.option(object, { nil: null }), object, removed, (cluster, mine, gone) => {
      const merged = mergeSidecar(cluster, write(mine, gone));
      const expected = new Set([...(cluster ? egressHosts(cluster) : []), ...egressHosts(mine)].filter((h) => !gone.includes(h)));
      assert.deepEqual(new Set(egressHosts(merged)), expected);
      assert.deepEqual(egressHosts(merged), [...expected].sort(), 'sorted, no duplicates');
      for (const host of records(merged).keys()) assert.ok(expected.has(host), `record of ${host} without the host`);
    }),
  );
});

test('merge (property): two replicas adding to one Sidecar end with the same hosts and times whichever lands first', () => {
  fc.assert(
    fc.property(fc.option(object, { nil: null }), object, object, (cluster, a, b) => {
      const ab = mergeSidecar(mergeSidecar(cluster, write(a)), write(b));
      const ba = mergeSidecar(mergeSidecar(cluster, write(b)), write(a));
      assert.deepEqual(egressHosts(ab), egressHosts(ba));
      assert.deepEqual(records(ab), records(ba));
    }),
  );
});

test('merge (property): removals that do not touch the other write commute too', () => {
  fc.assert(
    fc.property(fc.option(object, { nil: null }), object, object, removed, removed, (cluster, a, b, goneA, goneB) => {
      const ra = goneA.filter((h) => !egressHosts(b).includes(h));
      const rb = goneB.filter((h) => !egressHosts(a).includes(h));
      const ab = mergeSidecar(mergeSidecar(cluster, write(a, ra)), write(b, rb));
      const ba = mergeSidecar(mergeSidecar(cluster, write(b, rb)), write(a, ra));
      assert.deepEqual(egressHosts(ab), egressHosts(ba));
      assert.deepEqual(records(ab), records(ba));
    }),
  );
});

test('merge (property): idempotent, and a merged object is seen as unchanged by the same write', () => {
  fc.assert(
    fc.property(fc.option(object, { nil: null }), object, removed, (cluster, mine, gone) => {
      const once = mergeSidecar(cluster, write(mine, gone));
      const twice = mergeSidecar(once, write(mine, gone));
      assert.deepEqual(twice, once);
      assert.ok(sameSidecar(once, twice), 'a second merge finds nothing to write');
    }),
  );
});

test('merge (property): per host the newest lastSeen and the earliest writtenAt survive', () => {
  fc.assert(
    fc.property(hostMap, hostMap, (theirs, ours) => {
      const merged = records(mergeSidecar(sidecar(theirs), write(sidecar(ours))));
      for (const [host, r] of merged) {
        const sides = [theirs[host], ours[host]].filter((x): x is HostRecord => x !== undefined);
        assert.equal(r.lastSeen, Math.max(...sides.map((s) => s.lastSeen)));
        assert.equal(r.writtenAt, Math.min(...sides.map((s) => s.writtenAt)));
      }
    }),
  );
});

test('an expiry mark is dropped when another replica saw a later lookup, kept when nobody did', () => {
  const [a] = HOSTS as [string];
  const marked = sidecar({ [a]: { lastSeen: T0, writtenAt: T0, expiring: T0 + 600_000 } });
  const later = sidecar({ [a]: { lastSeen: T0 + 60_000, writtenAt: T0 } });
  const same = sidecar({ [a]: { lastSeen: T0, writtenAt: T0 } });
  assert.deepEqual(records(mergeSidecar(marked, write(later))).get(a), { lastSeen: T0 + 60_000, writtenAt: T0 });
  assert.deepEqual(records(mergeSidecar(later, write(marked))).get(a), { lastSeen: T0 + 60_000, writtenAt: T0 });
  assert.deepEqual(records(mergeSidecar(marked, write(same))).get(a), { lastSeen: T0, writtenAt: T0, expiring: T0 + 600_000 });
  assert.deepEqual(records(mergeSidecar(same, write(marked))).get(a), { lastSeen: T0, writtenAt: T0, expiring: T0 + 600_000 });
});

test('removed hosts leave the egress list and the hosts annotation; labels, selector and other annotations come from the write', () => {
  const [a, b, c] = HOSTS as [string, string, string];
  const cluster = sidecar({ [a]: { lastSeen: T0, writtenAt: T0 }, [b]: { lastSeen: T0, writtenAt: T0 } }, { selector: { app: 'old' }, selectorWrittenAt: T0 - 1000 });
  const mine = sidecar({ [c]: { lastSeen: T0, writtenAt: T0 } });
  const merged = mergeSidecar(cluster, write(mine, [a]));
  assert.deepEqual(egressHosts(merged), [b, 'istio-system/*', c].sort());
  assert.deepEqual([...records(merged).keys()], [b, c]);
  assert.deepEqual(merged.spec.workloadSelector, { labels: { app: 'productpage' } });
  assert.equal(merged.metadata.annotations['sidecar.discovery/selector-written-at'], new Date(T0).toISOString());
  assert.deepEqual(merged.metadata.labels, mine.metadata.labels);
  // What the reconciler reads back keeps every host and time.
  const back = parseSidecar(merged, ['istio-system/*'], T0 + 1);
  assert.deepEqual([...back.hosts.keys()], [b, c]);
  assert.deepEqual(back.defaults, ['istio-system/*']);
});

test('the last host removed drops the annotation; a namespace default without a selector stays without one', () => {
  const [a] = HOSTS as [string];
  const cluster = sidecar({ [a]: { lastSeen: T0, writtenAt: T0 } }, { name: 'discovery-default', workloadKind: 'Namespace', selector: null });
  const merged = mergeSidecar(cluster, write(cluster, [a]));
  assert.equal(merged.metadata.annotations[HOSTS_ANNOTATION], undefined);
  assert.equal(merged.spec.workloadSelector, undefined);
  assert.deepEqual(egressHosts(merged), ['istio-system/*']);
});

test('unchanged means unchanged in what Discovery owns: order and formatting do not count, a new host does', () => {
  const [a, b] = HOSTS as [string, string];
  const cluster = sidecar({ [a]: { lastSeen: T0, writtenAt: T0 }, [b]: { lastSeen: T0, writtenAt: T0 } });
  const shuffled: SidecarObject = {
    ...cluster,
    metadata: { ...cluster.metadata, annotations: { [HOSTS_ANNOTATION]: JSON.stringify(JSON.parse(cluster.metadata.annotations[HOSTS_ANNOTATION]!), null, 2), ...cluster.metadata.annotations } },
    spec: { ...cluster.spec, egress: [{ hosts: [...egressHosts(cluster)].reverse() }] },
  };
  assert.ok(sameSidecar(shuffled, mergeSidecar(shuffled, write(cluster))), 'order and formatting are not a change');
  assert.ok(!sameSidecar(cluster, mergeSidecar(cluster, write(sidecar({ [HOSTS[2]!]: { lastSeen: T0, writtenAt: T0 } })))), 'a new host is a change');
  assert.deepEqual(normalizeSidecar(cluster), cluster, 'the reconciler renders canonical objects already');
});

test('hosts annotation text that is not JSON or records missing times are ignored, not fatal', () => {
  assert.equal(parseHostRecords('{not json').size, 0);
  assert.equal(parseHostRecords('[1,2]').size, 0);
  assert.deepEqual([...parseHostRecords(JSON.stringify({ h: { lastSeen: 'x', writtenAt: '2026-03-01T00:00:00Z' }, g: 3 })).keys()], []);
});
