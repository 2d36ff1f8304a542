// "This file may have changed": the trigger half of a snapshot file source. Watching the file
// itself misses replacements (an editor's or config tool's write-then-rename leaves the watch on
// the old inode; a Kubernetes ConfigMap volume swaps its `..data` symlink and the file's mtime
// does not change — kubernetes#24215), so the DIRECTORY is watched and events are filtered by
// name. inotify is not delivered on every volume type (NFS, some overlay/FUSE mounts), so a
// periodic poll backs it up; the caller compares content hashes, so spurious triggers are cheap.

import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

export interface FileWatchOptions {
  /** Poll period, the fallback for lost or missing events. Default 2000 ms. */
  readonly pollIntervalMs?: number;
  /** Quiet time after the last event before triggering, so a burst of writes is read once. Default 100 ms. */
  readonly debounceMs?: number;
}

export interface FileWatch {
  /** Stop watching; no trigger fires after it returns. */
  close(): void;
  /** false when the directory could not be watched and only the poll runs. */
  readonly watching: boolean;
}

export const DEFAULT_POLL_INTERVAL_MS = 2000;
export const DEFAULT_DEBOUNCE_MS = 100;

/** Kubernetes' atomic writer publishes a ConfigMap/Secret volume by renaming a new `..data` symlink over the old one. */
const KUBE_ATOMIC_DATA = '..data';

/** 'event': the directory reported a change to the file; 'poll': the periodic fallback fired. */
export type WatchReason = 'event' | 'poll';

export function watchFile(path: string, onMaybeChanged: (reason: WatchReason) => void, opts: FileWatchOptions = {}): FileWatch {
  const full = resolve(path);
  const dir = dirname(full);
  const name = basename(full);
  const debounceMs = opts.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  const pollMs = opts.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  let closed = false;
  let debounce: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;

  const fire = (reason: WatchReason) => {
    if (!closed) onMaybeChanged(reason);
  };
  const schedule = () => {
    if (closed) return;
    if (debounce) clearTimeout(debounce);
    debounce = setTimeout(() => {
      debounce = undefined;
      fire('event');
    }, debounceMs);
  };

  try {
    watcher = watch(dir, { persistent: true }, (_event, filename) => {
      // Some platforms do not report the name; then any event in the directory counts.
      if (filename === null || filename === name || filename === KUBE_ATOMIC_DATA) schedule();
    });
    // E.g. the directory itself was removed, or the inotify watch limit was hit: keep polling.
    watcher.on('error', () => {
      watcher?.close();
      watcher = undefined;
    });
  } catch {
    watcher = undefined;
  }
  const poll = setInterval(fire, pollMs, 'poll');

  return {
    get watching() {
      return watcher !== undefined;
    },
    close() {
      closed = true;
      clearInterval(poll);
      if (debounce) clearTimeout(debounce);
      debounce = undefined;
      watcher?.close();
      watcher = undefined;
    },
  };
}
