// The audit trail of operator changes: who changed what, when and why. Append-only; an entry is
// written before the change it records is stored, so an unaudited change is impossible.

import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compileSchema } from '../platform/json-schema.ts';

export interface AuditEntry {
  readonly at: string;
  readonly actor: string;
  readonly action: 'mode' | 'pin' | 'unpin';
  readonly subject: string;
  readonly reason: string;
  readonly before: unknown;
  readonly after: unknown;
  /** The replica that took the command (absent in entries written before replicas were recorded). */
  readonly replica?: string;
  /** A change of this replica's local override, not of the shared state. */
  readonly local?: boolean;
}

export interface AuditLog {
  append(entry: AuditEntry): Promise<void>;
  /** The last `limit` entries, oldest first. */
  read(limit: number): Promise<AuditEntry[]>;
}

const AUDIT_ENTRY_SCHEMA = {
  type: 'object',
  required: ['at', 'actor', 'action', 'subject', 'reason'],
  properties: {
    at: { type: 'string' },
    actor: { type: 'string' },
    action: { enum: ['mode', 'pin', 'unpin'] },
    subject: { type: 'string' },
    reason: { type: 'string' },
    replica: { type: 'string' },
    local: { type: 'boolean' },
  },
} as const;

/** Validates one stored entry; throws an Error naming the first bad field. */
export const parseAuditEntry = compileSchema<AuditEntry>(AUDIT_ENTRY_SCHEMA, { name: 'audit entry' });

/** `audit.jsonl` (or `fileName`) in the state dir: one JSON entry per line. */
export class FileAuditLog implements AuditLog {
  readonly #dir: string;
  readonly #file: string;

  constructor(dir: string, fileName = 'audit.jsonl') {
    this.#dir = dir;
    this.#file = join(dir, fileName);
  }

  async append(entry: AuditEntry): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    await appendFile(this.#file, `${JSON.stringify(entry)}\n`);
  }

  async read(limit: number): Promise<AuditEntry[]> {
    if (limit <= 0) return [];
    let text: string;
    try {
      text = await readFile(this.#file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const entries: AuditEntry[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        entries.push(parseAuditEntry(JSON.parse(line)));
      } catch {
        // A torn last line after a crash (or a line that is not an entry) is skipped, not fatal.
      }
    }
    return entries.slice(-limit);
  }
}
