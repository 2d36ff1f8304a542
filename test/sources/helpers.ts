// Shared by the source tests: bounded polling instead of fixed sleeps, and temp dirs.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { DiscoveryError } from '../../src/platform/errors.ts';

/** Retry `check` until it stops throwing (or returns true), for at most `timeoutMs`. */
export async function eventually(check: () => unknown, timeoutMs = 5000, stepMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const ok = await check();
      if (ok !== false) return;
      if (Date.now() > deadline) assert.fail('condition still false');
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

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
