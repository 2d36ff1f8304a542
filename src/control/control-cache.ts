// The last control value read from the shared store, kept in the state dir, so a replica that
// restarts while the store is unreachable starts from what the fleet last agreed on instead of
// from nothing (docs/adr/0010-control-in-consul-kv.md). The file names the key it belongs to: a
// copy of another key is never used.

import { join } from 'node:path';
import { readFileIfExists, writeFileAtomic } from '../platform/atomic-file.ts';
import { errorMessage } from '../platform/errors.ts';
import { compileSchema } from '../platform/json-schema.ts';

/** What was read: the stored text and its ModifyIndex, or `value: null` when the key did not exist. */
export interface CachedRead {
  readonly key: string;
  readonly value: string | null;
  readonly modifyIndex: number;
  readonly readAt: string;
}

const CACHE_SCHEMA = {
  type: 'object',
  required: ['key', 'value', 'modifyIndex', 'readAt'],
  properties: {
    key: { type: 'string' },
    value: { type: ['string', 'null'] },
    modifyIndex: { type: 'integer', minimum: 0 },
    readAt: { type: 'string' },
  },
} as const;

const checkCache = compileSchema<CachedRead>(CACHE_SCHEMA, { name: 'control cache' });

export class ControlCache {
  readonly path: string;

  constructor(stateDir: string, fileName = 'control-cache.json') {
    this.path = join(stateDir, fileName);
  }

  /** The cached read of `key`; null when there is none, it is of another key, or it is unreadable (`onBad` says why). */
  async read(key: string, onBad: (message: string) => void): Promise<CachedRead | null> {
    let text: string | null;
    try {
      text = await readFileIfExists(this.path);
    } catch (err) {
      onBad(`cannot read the control cache ${this.path}: ${errorMessage(err)}`);
      return null;
    }
    if (text === null) return null;
    let cached: CachedRead;
    try {
      cached = checkCache(JSON.parse(text));
    } catch (err) {
      onBad(`ignoring the control cache ${this.path}: ${errorMessage(err)}`);
      return null;
    }
    if (cached.key !== key) {
      onBad(`ignoring the control cache ${this.path}: it holds ${cached.key}, not ${key}`);
      return null;
    }
    return cached;
  }

  async write(entry: CachedRead): Promise<void> {
    await writeFileAtomic(this.path, `${JSON.stringify(entry, null, 2)}\n`);
  }
}
