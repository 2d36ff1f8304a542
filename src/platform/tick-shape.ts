// Keeps process.nextTick on V8's fast path for the life of the process.
//
// Node builds every nextTick entry with one object literal whose property definitions V8 caches
// by hidden class (a monomorphic inline cache that never goes polymorphic: one miss makes it
// megamorphic for good). That hidden class is held only weakly by the cache: when no tick entry
// is alive through the full collections that loading a world triggers, V8 drops it, the next entry
// gets a fresh one, and from then on every nextTick defines its four properties through the V8
// runtime. An HTTP request costs about ten nextTicks inside Node (request end, response finish,
// socket writes), so that adds ~5 µs of CPU per request (bench/http.ts; with perf, the samples
// sit in Runtime_DefineKeyedOwnPropertyInLiteral under nextTick).
//
// Holding one tick entry keeps its hidden class, and with it the cache, alive. The only public way
// to see an entry is an async_hooks init hook, enabled here for the one nextTick it captures.

import { createHook } from 'node:async_hooks';

let held: object | null = null;

/** Captures and holds one nextTick entry; idempotent. Call as early as possible (module load). */
export function holdTickShape(): void {
  if (held !== null) return;
  const hook = createHook({
    init(_id, type, _trigger, resource) {
      if (type === 'TickObject' && held === null) held = resource;
    },
  });
  hook.enable();
  try {
    process.nextTick(noop);
  } finally {
    hook.disable();
  }
}

function noop(): void {}
