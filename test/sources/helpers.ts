// Shared by the source tests: temp dirs and snapshot-error assertions.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { DiscoveryError } from '../../src/platform/errors.ts';

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'discovery-sources-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Assert `fn` throws a DSC_ERR_SNAPSHOT DiscoveryError whose message contains every fragment. */
export function assertSnapshotError(fn: () => unknown, ...fragments: string[]): DiscoveryError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof DiscoveryError, `expected a DiscoveryError, got ${String(caught)}`);
  assert.equal(caught.code, 'DSC_ERR_SNAPSHOT');
  for (const f of fragments) assert.ok(caught.message.includes(f), `message ${JSON.stringify(caught.message)} should contain ${JSON.stringify(f)}`);
  return caught;
}
