// The audit trail in the upstream Consul KV, beside the control key: one key per entry under
// `<control-key>/audit/`, named `<time>-<replica>-<n>` so the names sort in time order and
// replicas never write the same key. Each key is created only if absent (CAS 0), so an entry is
// never overwritten; on the rare clash the next number is tried. See docs/adr/0010-control-in-consul-kv.md.

import { DiscoveryError, errorMessage } from '../platform/errors.ts';
import type { AuditEntry, AuditLog } from './audit-log.ts';
import { parseAuditEntry } from './audit-log.ts';
import type { ConsulKv } from './consul-kv-client.ts';

export interface ConsulKvAuditLogOptions {
  readonly kv: ConsulKv;
  /** The control key; entries go under `<key>/audit/`. */
  readonly key: string;
  /** This replica's name, part of each entry's key. */
  readonly replica: string;
  /** How many entries are fetched at once when the trail is read. Default 8. */
  readonly readConcurrency?: number;
}

/** Create attempts per entry before giving up (each clash moves to the next number). */
const CREATE_ATTEMPTS = 5;

export class ConsulKvAuditLog implements AuditLog {
  /** `<control-key>/audit/`. */
  readonly prefix: string;
  readonly #kv: ConsulKv;
  readonly #replica: string;
  readonly #concurrency: number;
  #sequence = 0;

  constructor(options: ConsulKvAuditLogOptions) {
    this.#kv = options.kv;
    this.prefix = `${options.key.replace(/\/+$/, '')}/audit/`;
    this.#replica = keySafe(options.replica);
    this.#concurrency = Math.max(1, options.readConcurrency ?? 8);
  }

  async append(entry: AuditEntry): Promise<void> {
    const text = JSON.stringify(entry);
    const replica = entry.replica !== undefined ? keySafe(entry.replica) : this.#replica;
    for (let attempt = 1; attempt <= CREATE_ATTEMPTS; attempt++) {
      const key = `${this.prefix}${compactTime(entry.at)}-${replica}-${String(++this.#sequence).padStart(9, '0')}`;
      let created: boolean;
      try {
        created = await this.#kv.setIfIndex(key, text, 0);
      } catch (err) {
        throw new DiscoveryError('DSC_ERR_STATE', `cannot write the audit entry: ${errorMessage(err)}`, { cause: err });
      }
      if (created) return;
    }
    throw new DiscoveryError('DSC_ERR_STATE', `cannot write the audit entry under ${this.prefix}: ${CREATE_ATTEMPTS} keys in a row already existed`);
  }

  /** The newest `limit` entries, oldest first. Keys whose value is not an entry are skipped. */
  async read(limit: number): Promise<AuditEntry[]> {
    if (limit <= 0) return [];
    const keys = (await this.#kv.keys(this.prefix)).filter((k) => k.length > this.prefix.length).slice(-limit);
    const entries: Array<AuditEntry | null> = new Array<AuditEntry | null>(keys.length).fill(null);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < keys.length) {
        const i = next++;
        const read = await this.#kv.get(keys[i]!);
        if (!read) continue; // removed between the listing and the read
        try {
          entries[i] = parseAuditEntry(JSON.parse(read.value));
        } catch {
          // Not an entry (written by hand, or by something else under the prefix): skipped, as a torn line in the file trail.
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, keys.length) }, worker));
    return entries.filter((e): e is AuditEntry => e !== null);
  }
}

/** `2024-05-01T10:00:00.123Z` as `20240501T100000.123Z`: sortable and free of characters that need escaping in a key. */
function compactTime(iso: string): string {
  const compact = iso.replace(/[-:]/g, '');
  return /^[0-9T.Z+]+$/.test(compact) ? compact : keySafe(compact);
}

function keySafe(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, '_') || '_';
}
