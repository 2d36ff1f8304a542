// Give the memory of a large snapshot load back right away. Parsing a fleet-size snapshot
// allocates several times the world's final size; V8 collects that garbage only under further
// allocation pressure, which an idle service answering from caches does not create, so the
// process would keep ~2x the RSS it needs (bench/scale.ts). One full GC after a load fixes that.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | null | undefined;

function collector(): (() => void) | null {
  if (gc !== undefined) return gc;
  try {
    // `--expose-gc` set at run time takes effect in contexts created afterwards.
    setFlagsFromString('--expose-gc');
    const fn: unknown = runInNewContext('gc');
    gc = typeof fn === 'function' ? (fn as () => void) : null;
  } catch {
    gc = null;
  }
  return gc;
}

let scheduled: NodeJS.Timeout | undefined;

/** Collect once, shortly after the current burst of work (several reloads in a row cost one GC). */
export function releaseAfterLoad(delayMs = 200): void {
  if (scheduled) return;
  scheduled = setTimeout(() => {
    scheduled = undefined;
    collector()?.();
  }, delayMs);
  scheduled.unref();
}
