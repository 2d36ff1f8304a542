// An exclusive lock file, so processes sharing a state dir never interleave a read-compare-write
// of the same file. The lock is a file created with O_EXCL holding the owner's pid; a lock older
// than `staleMs` is taken to be left behind by a crashed process and is removed.

import { open, readFile, rm, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { DiscoveryError, errorMessage } from '../platform/errors.ts';

export interface LockOptions {
  /** Give up waiting after this long. Default 15 s. */
  readonly timeoutMs?: number;
  /** A lock file older than this is removed. Default 10 s: a locked section takes milliseconds. */
  readonly staleMs?: number;
}

export async function withLockFile<T>(path: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  await acquire(path, options.timeoutMs ?? 15_000, options.staleMs ?? 10_000);
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}

async function acquire(path: string, timeoutMs: number, staleMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    try {
      const fh = await open(path, 'wx', 0o644);
      try {
        await fh.writeFile(`${process.pid}\n`);
      } finally {
        await fh.close();
      }
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new DiscoveryError('DSC_ERR_STATE', `cannot create the lock file ${path}: ${errorMessage(err)}`);
    }
    const age = await ageOf(path);
    if (age !== null && age > staleMs) {
      await rm(path, { force: true });
      continue;
    }
    if (Date.now() >= deadline) {
      const owner = (await readFile(path, 'utf8').catch(() => '')).trim();
      throw new DiscoveryError('DSC_ERR_STATE', `the lock file ${path} is held${owner ? ` by pid ${owner}` : ''} for more than ${timeoutMs} ms; remove it if no discovery process is writing`);
    }
    await sleep(delay);
  }
}

/** Milliseconds since the file was last modified, or null when it is gone. */
async function ageOf(path: string): Promise<number | null> {
  try {
    return Date.now() - (await stat(path)).mtimeMs;
  } catch {
    return null;
  }
}
