// Serialized answers, built once per change and served as bytes (docs/adr/0004-http-fast-path-before-fastify.md: serializing per
// request costs 3-4x). One slot per (route, subject, body-shaping params); a slot whose version
// no longer matches is rebuilt, so stale bodies are replaced rather than accumulated.

import { gzipSync } from 'node:zlib';

/** Go's gziphandler leaves smaller bodies alone. */
export const GZIP_MIN_BYTES = 1400;

export interface CachedAnswer {
  readonly version: unknown;
  readonly body: Buffer;
  /** Built on the first request that accepts gzip; null when the body is too small to compress. */
  gzip: Buffer | null | undefined;
}

export class AnswerCache {
  readonly #slots = new Map<string, CachedAnswer>();
  readonly #max: number;
  hits = 0;
  misses = 0;

  constructor(maxSlots = 20_000) {
    this.#max = maxSlots;
  }

  get size(): number {
    return this.#slots.size;
  }

  /**
   * The cached answer when its version is current, else builds, stores and returns a new one.
   * The builder is an object, not a closure: no function is created per request on the hit path.
   */
  get(slot: string, version: unknown, builder: { build(): string }): CachedAnswer {
    const hit = this.#slots.get(slot);
    if (hit !== undefined && hit.version === version) {
      this.hits++;
      return hit;
    }
    this.misses++;
    const entry: CachedAnswer = { version, body: Buffer.from(builder.build()), gzip: undefined };
    if (hit === undefined && this.#slots.size >= this.#max) {
      // Oldest slot first (Map keeps insertion order): cheap, and hot slots are re-inserted on every change anyway.
      const oldest = this.#slots.keys().next().value;
      if (oldest !== undefined) this.#slots.delete(oldest);
    }
    if (hit !== undefined) this.#slots.delete(slot);
    this.#slots.set(slot, entry);
    return entry;
  }

  clear(): void {
    this.#slots.clear();
  }
}

export function gzipOf(entry: CachedAnswer): Buffer | null {
  if (entry.gzip === undefined) entry.gzip = entry.body.length >= GZIP_MIN_BYTES ? gzipSync(entry.body) : null;
  return entry.gzip;
}
