import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DiscoveryError } from '../../src/platform/errors.ts';
import { consulSnapshotSource, kubeSnapshotSource } from '../../src/sources/snapshot-sources.ts';
import { SnapshotFileSource } from '../../src/sources/snapshot-file-source.ts';
import type { Source } from '../../src/sources/source.ts';
import type { ConsulCatalog } from '../../src/world/consul-types.ts';
import { withTempDir } from './helpers.ts';
import { eventually } from '../support/eventually.ts';

const FAST = { pollIntervalMs: 50, debounceMs: 20 };

/** A one-service snapshot whose port tells versions apart. */
const version = (port: number) => JSON.stringify([{ Node: 'haproxy-1', Address: '10.20.0.1', Service: { Service: 'web', Port: port } }]);
const portOf = (c: ConsulCatalog) => c.services.get('web')?.instances[0]?.service.Port;

/** Start a source; `stop` aborts it, as the world feed does at shutdown. */
async function run<T>(source: Source<T>, data: (value: T) => void, error: (err: Error) => void = () => undefined): Promise<{ stop: () => void }> {
  const ac = new AbortController();
  try {
    await source.start({ data, error, stale: () => assert.fail("a snapshot source is never stale") }, ac.signal);
  } catch (err) {
    ac.abort();
    throw err;
  }
  return { stop: () => ac.abort() };
}

async function started(file: string, opts: Partial<typeof FAST> = FAST) {
  const delivered: number[] = [];
  const errors: Error[] = [];
  const source = consulSnapshotSource(file, 'dc1', opts);
  const { stop } = await run(source, (c) => delivered.push(portOf(c) ?? -1), (e) => errors.push(e));
  return { source, delivered, errors, stop };
}

/** Long enough for several polls and watch events of the FAST settings: for checks that nothing more happens. */
const quiet = () => new Promise((r) => setTimeout(r, 250));

test('start delivers the initial data before resolving', async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'consul.json');
    await writeFile(file, version(1));
    const { source, stop, delivered } = await started(file);
    try {
      assert.deepEqual(delivered, [1]);
      const s = source.status();
      assert.equal(s.name, 'consul-snapshot');
      assert.deepEqual(s.detail, { file });
      assert.equal(s.synced, true);
      assert.equal(s.loads, 1);
      assert.equal(s.errors, 0);
      assert.equal(s.lastError, null);
      assert.ok(s.lastChangeAt !== null && s.version !== null);
    } finally {
      stop();
    }
  });
});

test('start rejects with DSC_ERR_SNAPSHOT naming the file when it is missing or invalid', async () => {
  await withTempDir(async (dir) => {
    const missing = join(dir, 'nope.json');
    const a = consulSnapshotSource(missing, 'dc1', FAST);
    await assert.rejects(run(a, () => assert.fail('no data expected')), (err: unknown) => {
      assert.ok(err instanceof DiscoveryError);
      assert.equal(err.code, 'DSC_ERR_SNAPSHOT');
      assert.match(err.message, /nope\.json: cannot read: file not found \(ENOENT\)/);
      return true;
    });
    assert.equal(a.status().lastError?.includes('file not found'), true);

    const broken = join(dir, 'consul.json');
    await writeFile(broken, '[{"Node": 1}]');
    const b = consulSnapshotSource(broken, 'dc1', FAST);
    await assert.rejects(run(b, () => assert.fail('no data expected')), (err: unknown) => {
      assert.ok(err instanceof DiscoveryError);
      assert.equal(err.message, `${broken}: [0].Node must be a string, got number 1`);
      return true;
    });
    assert.equal(b.status().synced, false);
  });
});

test('a rewrite in place is delivered', async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'consul.json');
    await writeFile(file, version(1));
    const { stop, delivered } = await started(file);
    try {
      await writeFile(file, version(2));
      await eventually(() => assert.deepEqual(delivered, [1, 2]), 'version 2 delivered');
    } finally {
      stop();
    }
  });
});

test('a replacement by rename (write a temp file, rename over) is delivered', async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'consul.json');
    await writeFile(file, version(1));
    const { stop, delivered } = await started(file);
    try {
      for (const port of [2, 3]) {
        const tmp = join(dir, `.consul.json.${port}.tmp`);
        await writeFile(tmp, version(port));
        await rename(tmp, file);
        await eventually(() => assert.equal(delivered.at(-1), port), `version ${port} delivered`);
      }
      assert.deepEqual(delivered, [1, 2, 3]);
    } finally {
      stop();
    }
  });
});

test('a Kubernetes ConfigMap volume update (..data symlink swap) is delivered', async () => {
  await withTempDir(async (dir) => {
    // The kubelet's atomic writer layout: file -> ..data/file, ..data -> ..<timestamp> directory.
    await mkdir(join(dir, '..2026_01_01_00_00_00.1'));
    await writeFile(join(dir, '..2026_01_01_00_00_00.1', 'consul.json'), version(1));
    await symlink('..2026_01_01_00_00_00.1', join(dir, '..data'));
    await symlink(join('..data', 'consul.json'), join(dir, 'consul.json'));
    const { stop, delivered } = await started(join(dir, 'consul.json'));
    try {
      await mkdir(join(dir, '..2026_01_01_00_01_00.2'));
      await writeFile(join(dir, '..2026_01_01_00_01_00.2', 'consul.json'), version(2));
      await symlink('..2026_01_01_00_01_00.2', join(dir, '..data_tmp'));
      await rename(join(dir, '..data_tmp'), join(dir, '..data'));
      await eventually(() => assert.deepEqual(delivered, [1, 2]), 'version 2 delivered');
    } finally {
      stop();
    }
  });
});

test('a broken version keeps the last good data, is reported once, and the next good one is delivered', async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'consul.json');
    await writeFile(file, version(1));
    const { source, stop, delivered, errors } = await started(file);
    try {
      await writeFile(file, '[{"Node": "haproxy-1", "Address": "10.20.0.1", "Service": {"Service": "web", "Port": "http"}}]');
      await eventually(() => assert.equal(errors.length, 1), 'one error reported');
      // More checks of the same broken file (events, polls) report nothing new.
      await quiet();
      assert.equal(errors.length, 1);
      assert.ok(errors[0] instanceof DiscoveryError);
      assert.equal(errors[0].message, `${file}: [0].Service.Port must be an integer 0-65535, got the string "http"`);
      assert.deepEqual(delivered, [1]);
      const broken = source.status();
      assert.equal(broken.lastError, errors[0].message);
      assert.equal(broken.errors, 1);
      assert.equal(broken.loads, 1);

      await writeFile(file, version(4));
      await eventually(() => assert.deepEqual(delivered, [1, 4]), 'version 4 delivered');
      assert.equal(source.status().lastError, null);
      assert.equal(source.status().loads, 2);
      assert.equal(errors.length, 1);
    } finally {
      stop();
    }
  });
});

test('a rewrite with identical content delivers nothing', async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'consul.json');
    await writeFile(file, version(1));
    const { stop, delivered } = await started(file);
    try {
      await writeFile(file, version(1));
      const tmp = join(dir, 'consul.json.tmp');
      await writeFile(tmp, version(1));
      await rename(tmp, file);
      await quiet();
      // A real change afterwards is the only delivery: the no-op rewrites in between produced none.
      await writeFile(file, version(2));
      await eventually(() => assert.equal(delivered.at(-1), 2), 'version 2 delivered');
      assert.deepEqual(delivered, [1, 2]);
    } finally {
      stop();
    }
  });
});

test('the poll alone notices a change (volumes that deliver no inotify events)', async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'consul.json');
    await writeFile(file, version(1));
    // A debounce far longer than the test: only the poll can trigger the read.
    const { stop, delivered } = await started(file, { pollIntervalMs: 30, debounceMs: 3_600_000 });
    try {
      await writeFile(file, version(2));
      await eventually(() => assert.deepEqual(delivered, [1, 2]), 'version 2 delivered');
    } finally {
      stop();
    }
  });
});

test('a deleted file keeps the last good data; when it comes back it is read again', async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'consul.json');
    await writeFile(file, version(1));
    const { source, stop, delivered, errors } = await started(file);
    try {
      await rename(file, join(dir, 'moved-away.json'));
      await eventually(() => assert.equal(errors.length, 1), 'one error reported');
      assert.match(errors[0]!.message, /cannot read: file not found/);
      await writeFile(file, version(1));
      await eventually(() => assert.equal(source.status().lastError, null), 'the error cleared');
      assert.deepEqual(delivered, [1], 'the same content again is not a new version');
      await writeFile(file, version(5));
      await eventually(() => assert.deepEqual(delivered, [1, 5]), 'version 5 delivered');
    } finally {
      stop();
    }
  });
});

test('the Kubernetes snapshot source reports skipped kinds and delivers snapshots', async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'kube.yaml');
    await writeFile(file, 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: a}\n');
    const ignored: string[] = [];
    const namespaces: string[][] = [];
    const source = kubeSnapshotSource(file, { ...FAST, onIgnored: (m) => ignored.push(...m.keys()) });
    const { stop } = await run(source, (k) => namespaces.push([...k.namespaces]));
    try {
      assert.deepEqual(namespaces, [['a']]);
      assert.deepEqual(ignored, ['v1 ConfigMap']);
      await writeFile(file, 'apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n');
      await eventually(() => assert.deepEqual(namespaces, [['a'], ['b']]), 'namespace b delivered');
    } finally {
      stop();
    }
  });
});

test('abort releases the directory watch and every timer; nothing is delivered afterwards', async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'consul.json');
    await writeFile(file, version(1));
    const count = () => {
      const info = process.getActiveResourcesInfo();
      return { watchers: info.filter((r) => r === 'FSEventWrap').length, timers: info.filter((r) => r === 'Timeout').length };
    };
    await eventually(() => assert.equal(count().watchers, 0), 'no file watchers left', { timeoutMs: 2000 });
    const before = count();
    const delivered: number[] = [];
    const source = new SnapshotFileSource<number>({ name: 't', file, parse: (text) => text.length, ...FAST });
    const { stop } = await run(source, (n) => delivered.push(n));
    assert.equal(count().watchers, before.watchers + 1);
    assert.ok(count().timers > before.timers);
    await writeFile(file, version(22)); // an event may be pending at the abort
    stop();
    await eventually(() => assert.deepEqual(count(), before), 'watchers and timers back to before');
    await writeFile(file, version(333));
    await quiet();
    assert.equal(delivered[0], version(1).length);
    assert.ok(!delivered.includes(version(333).length), 'no delivery after the abort');
  });
});
