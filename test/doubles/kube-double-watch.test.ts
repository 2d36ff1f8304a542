// Watches of the Kubernetes API double through @kubernetes/client-node: the informer's documented
// lifecycle (add/update/delete, bookmarks advancing the resourceVersion, a clean end re-watching
// without a re-list, 410 re-listing and deleting what is gone, a dropped watch stopping it with
// `error`) and the raw event stream (initial state, replay, in-stream 410, selectors, timeouts).

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api, ListWatch, Watch, type V1Pod } from '@kubernetes/client-node';
import { KubeDouble, type KubeDoubleOptions } from '../support/kube-double/index.ts';
import { eventually } from '../support/eventually.ts';
import { meta, pod } from './kube-fixtures.ts';

async function startDouble(t: TestContext, opts: KubeDoubleOptions = {}): Promise<KubeDouble> {
  const kube = await KubeDouble.start(opts);
  t.after(() => kube.close());
  return kube;
}

interface Observed {
  informer: ListWatch<V1Pod>;
  events: string[];
  errors: unknown[];
  connects: number;
}

/** A started Pod informer on `path` that records what it reports. */
async function podInformer(t: TestContext, kube: KubeDouble, path = '/api/v1/pods'): Promise<Observed> {
  const kc = kube.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  // What makeInformer builds, typed as the class so latestResourceVersion() is visible.
  const informer = new ListWatch<V1Pod>(path, new Watch(kc), () => core.listPodForAllNamespaces(), false);
  const seen: Observed = { informer, events: [], errors: [], connects: 0 };
  informer.on('add', (p) => seen.events.push(`add ${p.metadata?.name}`));
  informer.on('update', (p) => seen.events.push(`update ${p.metadata?.name}`));
  informer.on('delete', (p) => seen.events.push(`delete ${p.metadata?.name}`));
  informer.on('error', (err) => seen.errors.push(err));
  informer.on('connect', () => (seen.connects += 1));
  t.after(() => informer.stop());
  await informer.start();
  await eventually(() => assert.equal(kube.stats.openWatches(), 1), 'the informer watch to open');
  return seen;
}

const lists = (kube: KubeDouble): number => kube.stats.requests({ method: 'GET', pathPrefix: '/api/v1/pods', watch: false });
const watches = (kube: KubeDouble): Array<Record<string, string>> =>
  kube.stats.log().filter((e) => e.path === '/api/v1/pods' && e.query.watch === 'true').map((e) => e.query);

test('an informer sees adds, updates and deletes', async (t) => {
  const kube = await startDouble(t);
  kube.create(pod('ns', 'a'));
  const seen = await podInformer(t, kube);
  kube.create(pod('ns', 'b'));
  kube.apply(pod('ns', 'a', { version: '2' }));
  kube.remove('v1', 'Pod', 'ns', 'b');
  await eventually(() => assert.deepEqual(seen.events, ['add a', 'add b', 'update a', 'delete b']), 'the informer events');
  assert.equal(seen.informer.latestResourceVersion(), kube.resourceVersion);
  assert.deepEqual(seen.errors, []);
});

test('bookmarks advance the informer resourceVersion when asked for, and only then', async (t) => {
  const kube = await startDouble(t, { bookmarkIntervalMs: 50 });
  kube.create(pod('ns', 'a'));
  const withBookmarks = await podInformer(t, kube, '/api/v1/pods?allowWatchBookmarks=true');
  const rvBefore = withBookmarks.informer.latestResourceVersion();
  kube.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc', namespace: 'ns' }, spec: {} });
  assert.notEqual(kube.resourceVersion, rvBefore);
  await eventually(() => assert.equal(withBookmarks.informer.latestResourceVersion(), kube.resourceVersion), 'a bookmark carrying the new resourceVersion');
  assert.deepEqual(withBookmarks.events, ['add a'], 'a bookmark is not an object event');

  const plain = await startDouble(t, { bookmarkIntervalMs: 50 });
  plain.create(pod('ns', 'a'));
  const without = await podInformer(t, plain);
  const rv = without.informer.latestResourceVersion();
  plain.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc', namespace: 'ns' }, spec: {} });
  const raw = await rawEvents(plain, '/api/v1/pods', { resourceVersion: plain.resourceVersion, allowWatchBookmarks: true }, 2);
  assert.deepEqual(raw.events.slice(0, 1).map((e) => e.type), ['BOOKMARK']);
  assert.deepEqual(raw.events[0]?.object, { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: plain.resourceVersion } });
  assert.equal(without.informer.latestResourceVersion(), rv, 'no bookmarks without allowWatchBookmarks');
});

test('a watch ended cleanly is resumed from the last resourceVersion, without a re-list, and nothing is lost', async (t) => {
  const kube = await startDouble(t);
  kube.create(pod('ns', 'a'));
  const seen = await podInformer(t, kube);
  const rv = seen.informer.latestResourceVersion();
  kube.faults.endWatches();
  kube.create(pod('ns', 'during-reconnect'));
  await eventually(() => assert.deepEqual(seen.events, ['add a', 'add during-reconnect']), 'the event written while no watch was open');
  assert.equal(lists(kube), 1, 'no second LIST');
  assert.deepEqual(watches(kube).map((q) => q.resourceVersion), [rv, rv]);
  assert.equal(seen.connects, 2);
  assert.deepEqual(seen.errors, []);
});

test('410 Expired in the stream: the informer re-lists and deletes what is gone', async (t) => {
  const kube = await startDouble(t);
  kube.create(pod('ns', 'stays'));
  kube.create(pod('ns', 'vanishes'));
  const seen = await podInformer(t, kube);
  const oldRv = seen.informer.latestResourceVersion();
  kube.faults.stallWatches(true); // the informer misses the deletion ...
  kube.remove('v1', 'Pod', 'ns', 'vanishes');
  kube.faults.expire(); // ... and the history that held it is compacted
  kube.faults.stallWatches(false);
  kube.faults.endWatches();
  await eventually(() => assert.deepEqual(seen.events, ['add stays', 'add vanishes', 'delete vanishes']), 'the delete found by the re-list');
  assert.equal(lists(kube), 2);
  const rvs = watches(kube).map((q) => q.resourceVersion);
  assert.deepEqual(rvs.slice(0, 2), [oldRv, oldRv], 'the re-watch from the old resourceVersion got the 410');
  await eventually(() => assert.equal(watches(kube).at(-1)?.resourceVersion, kube.resourceVersion), 'a watch from the re-list resourceVersion');
  assert.deepEqual(seen.errors, [], '410 is not an error for the informer');
});

test('a plain HTTP 410 on the watch request also makes the informer re-list', async (t) => {
  const kube = await startDouble(t);
  kube.create(pod('ns', 'a'));
  const seen = await podInformer(t, kube);
  kube.faults.fail(1, 410, { watch: true });
  kube.faults.endWatches();
  await eventually(() => assert.equal(lists(kube), 2), 'the re-list after the 410');
  await eventually(() => assert.equal(kube.stats.openWatches(), 1), 'the watch reopened');
  assert.equal(kube.stats.log().filter((e) => e.status === 410).length, 1);
  assert.deepEqual(seen.errors, []);
});

test('a dropped watch stops the informer with an error, and it does not come back by itself', async (t) => {
  const kube = await startDouble(t);
  kube.create(pod('ns', 'a'));
  const seen = await podInformer(t, kube);
  kube.faults.dropWatches();
  await eventually(() => assert.equal(seen.errors.length, 1), 'the informer error');
  assert.match(String((seen.errors[0] as Error).message), /Premature close/);
  const requests = kube.stats.requests();
  kube.create(pod('ns', 'b'));
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(kube.stats.requests(), requests, 'no new LIST or watch');
  assert.equal(kube.stats.openWatches(), 0);
  assert.deepEqual(seen.events, ['add a']);
});

interface RawEvent {
  type: string;
  object: Record<string, unknown>;
}

/** Opens a raw watch and collects events until `count` arrived or the server ended the stream. */
async function rawEvents(kube: KubeDouble, path: string, query: Record<string, string | number | boolean | undefined>, count: number, whileOpen?: () => void): Promise<{ events: RawEvent[]; ended: boolean }> {
  const events: RawEvent[] = [];
  let ended = false;
  const controller = await new Watch(kube.kubeConfig()).watch(path, query, (type, object) => events.push({ type, object: object as Record<string, unknown> }), () => (ended = true));
  try {
    whileOpen?.();
    await eventually(() => assert.ok(events.length >= count || ended, `${events.length} of ${count} events`), `${count} watch events on ${path}`);
  } finally {
    controller.abort();
  }
  return { events, ended };
}

test('a watch without resourceVersion starts with the current objects; with one it replays what came after', async (t) => {
  const kube = await startDouble(t);
  kube.create(pod('ns', 'a'));
  const rvAfterA = kube.resourceVersion;
  kube.create(pod('ns', 'b'));
  kube.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'b', namespace: 'ns' }, spec: {} }); // another type: not in a Pod watch
  kube.apply(pod('ns', 'a', { edited: 'yes' }));
  kube.remove('v1', 'Pod', 'ns', 'b');
  const initial = await rawEvents(kube, '/api/v1/namespaces/ns/pods', {}, 1);
  assert.deepEqual(initial.events.map((e) => `${e.type} ${String(meta(e.object).name)}`), ['ADDED a']);
  const replay = await rawEvents(kube, '/api/v1/pods', { resourceVersion: rvAfterA }, 3);
  assert.deepEqual(replay.events.map((e) => `${e.type} ${String(meta(e.object).name)}`), ['ADDED b', 'MODIFIED a', 'DELETED b']);
  assert.equal(meta(replay.events[2]?.object).resourceVersion, kube.resourceVersion, 'a DELETED event carries the deletion resourceVersion');
  assert.equal(replay.events[0]?.object.kind, 'Pod', 'watch events carry kind');
});

test('a resourceVersion older than the history gets an in-stream 410 ERROR, then the stream ends', async (t) => {
  const kube = await startDouble(t, { historyLimit: 2 });
  kube.create(pod('ns', 'a'));
  const old = kube.resourceVersion;
  kube.create(pod('ns', 'b'));
  kube.create(pod('ns', 'c'));
  kube.create(pod('ns', 'd'));
  const { events, ended } = await rawEvents(kube, '/api/v1/pods', { resourceVersion: old }, 1);
  assert.deepEqual(events, [{
    type: 'ERROR',
    object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${old} (${Number(old) + 1})`, reason: 'Expired', code: 410 },
  }]);
  await eventually(() => assert.equal(kube.stats.openWatches(), 0), 'the stream closed');
  assert.equal(kube.stats.log().at(-1)?.status, 200, 'the error comes inside a 200 stream');
  void ended;
  const inHistory = await rawEvents(kube, '/api/v1/pods', { resourceVersion: String(Number(old) + 1) }, 2);
  assert.deepEqual(inHistory.events.map((e) => e.type), ['ADDED', 'ADDED']);
});

test('a watch from a resourceVersion not reached yet waits for it, then fails with 504 if it never comes', async (t) => {
  const kube = await startDouble(t);
  const next = String(Number(kube.resourceVersion) + 1);
  const waiting = rawEvents(kube, '/api/v1/pods', { resourceVersion: next }, 1, () => {
    kube.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'moves-the-rv', namespace: 'ns' }, spec: {} });
    kube.create(pod('ns', 'after'));
  });
  assert.deepEqual((await waiting).events.map((e) => `${e.type} ${String(meta(e.object).name)}`), ['ADDED after']);
  const never = String(Number(kube.resourceVersion) + 100);
  const { events } = await rawEvents(kube, '/api/v1/pods', { resourceVersion: never }, 1);
  assert.equal(events[0]?.type, 'ERROR');
  assert.equal(events[0]?.object.code, 504);
  assert.equal(events[0]?.object.message, `Too large resource version: ${never}, current: ${kube.resourceVersion}`);
});

test('a label-selected watch sees an object leave the selection as DELETED and enter it as ADDED', async (t) => {
  const kube = await startDouble(t);
  kube.create(pod('ns', 'a', { app: 'web' }));
  const rv = kube.resourceVersion;
  kube.apply(pod('ns', 'a', { app: 'db' }));
  kube.apply(pod('ns', 'a', { app: 'web' }));
  const { events } = await rawEvents(kube, '/api/v1/pods', { resourceVersion: rv, labelSelector: 'app=web' }, 2);
  assert.deepEqual(events.map((e) => e.type), ['DELETED', 'ADDED']);
  assert.deepEqual(meta(events[0]?.object).labels, { app: 'web' }, 'the DELETED event shows the object as it was');
  assert.equal(meta(events[0]?.object).resourceVersion, String(Number(rv) + 1));
});

test('timeoutSeconds ends the stream cleanly', async (t) => {
  const kube = await startDouble(t);
  let doneWith: unknown = 'not called';
  await new Watch(kube.kubeConfig()).watch('/api/v1/pods', { timeoutSeconds: 1 }, () => undefined, (err: unknown) => {
    doneWith = err;
  });
  await eventually(() => assert.equal(doneWith, null), 'a clean end after timeoutSeconds', { timeoutMs: 5000 });
  assert.equal(kube.stats.openWatches(), 0);
});

test('stalled watches stay open and deliver nothing; watches opened after the stall work', async (t) => {
  const kube = await startDouble(t, { bookmarkIntervalMs: 20 });
  const stalled: RawEvent[] = [];
  const controller = await new Watch(kube.kubeConfig()).watch('/api/v1/pods', { resourceVersion: kube.resourceVersion, allowWatchBookmarks: true }, (type, object) => stalled.push({ type, object: object as Record<string, unknown> }), () => undefined);
  t.after(() => controller.abort());
  await eventually(() => assert.ok(stalled.some((e) => e.type === 'BOOKMARK')), 'a bookmark before the stall');
  kube.faults.stallWatches(true);
  const before = stalled.length;
  kube.create(pod('ns', 'unseen'));
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(stalled.length, before, 'no event and no bookmark');
  assert.equal(kube.stats.openWatches(), 1);
  kube.faults.stallWatches(false);
  const fresh = await rawEvents(kube, '/api/v1/pods', {}, 1);
  assert.deepEqual(fresh.events.map((e) => e.type), ['ADDED']);
  assert.equal(stalled.length, before, 'a watch stalled once stays silent');
});

test('down refuses connections and ends every watch; up serves again on the same port', async (t) => {
  const kube = await startDouble(t);
  kube.create(pod('ns', 'a'));
  const seen = await podInformer(t, kube);
  const core = kube.kubeConfig().makeApiClient(CoreV1Api);
  const port = kube.port;
  await kube.faults.down();
  await eventually(() => assert.equal(seen.errors.length, 1), 'the informer error when the server went away');
  await assert.rejects(core.listPodForAllNamespaces(), (err: Error & { code?: string; cause?: { code?: string } }) => {
    assert.match(`${err.message} ${err.code ?? ''} ${err.cause?.code ?? ''}`, /ECONNREFUSED/);
    return true;
  });
  await kube.faults.up();
  assert.equal(kube.port, port);
  assert.equal((await core.listPodForAllNamespaces()).items.length, 1);
});
