// Embedded-mode sink: every managed Sidecar in one multi-document YAML file (stateDir/sidecars.yaml),
// rewritten atomically per batch. It refuses to write until it has read the file successfully,
// so a file it could not parse is never overwritten with a smaller set.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { writeFileAtomic } from '../platform/atomic-file.ts';
import { errorMessage } from '../platform/errors.ts';
import { SerialQueue } from '../platform/serial-queue.ts';
import type { ApplyResult, ReadBack, SidecarObject, SidecarRef, SidecarSink, SidecarWrite } from './sidecar-sink.ts';
import { assertManaged, isManaged, sidecarKey } from './sidecar-sink.ts';

export const SIDECARS_FILE = 'sidecars.yaml';

export class FileSidecarSink implements SidecarSink {
  readonly name = 'file';
  readonly path: string;
  #objects: Map<string, SidecarObject> | null = null;
  /** Serializes file rewrites. */
  readonly #writes = new SerialQueue();

  constructor(stateDir: string) {
    this.path = join(stateDir, SIDECARS_FILE);
  }

  async readBack(): Promise<ReadBack> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return { ok: false, error: `cannot read ${this.path}: ${errorMessage(err)}` };
      this.#objects = new Map();
      return { ok: true, sidecars: [] };
    }
    const objects = new Map<string, SidecarObject>();
    const docs = parseAllDocuments(text);
    for (const doc of Array.isArray(docs) ? docs : [docs]) {
      if (doc.errors.length > 0) return { ok: false, error: `${this.path}: ${doc.errors[0]!.message}` };
      const value: unknown = doc.toJS();
      if (value === null || value === undefined) continue;
      const o = value as SidecarObject;
      if (typeof o !== 'object' || o.kind !== 'Sidecar' || typeof o.metadata?.name !== 'string' || typeof o.metadata?.namespace !== 'string') {
        return { ok: false, error: `${this.path}: a document is not a namespaced Sidecar` };
      }
      if (!isManaged(o)) continue;
      objects.set(sidecarKey(o), o);
    }
    this.#objects = objects;
    return { ok: true, sidecars: [...objects.values()] };
  }

  /** One writer owns the file: each object replaces what is stored. */
  apply(writes: readonly SidecarWrite[]): Promise<ApplyResult> {
    const objects = writes.map((w) => w.object);
    return this.#change(objects.map(sidecarKey), (next) => {
      for (const o of objects) {
        assertManaged(o);
        next.set(sidecarKey(o), o);
      }
    });
  }

  delete(refs: readonly SidecarRef[]): Promise<ApplyResult> {
    return this.#change(refs.map(sidecarKey), (next) => {
      for (const r of refs) next.delete(sidecarKey(r));
    });
  }

  /** All or nothing: the batch lands in one atomic rename, or nothing changes. */
  #change(keys: string[], edit: (next: Map<string, SidecarObject>) => void): Promise<ApplyResult> {
    return this.#writes.run(async (): Promise<ApplyResult> => {
      try {
        if (!this.#objects) throw new Error(`${this.path} has not been read successfully; refusing to overwrite it`);
        const next = new Map(this.#objects);
        edit(next);
        await writeFileAtomic(this.path, render(next));
        this.#objects = next;
        return { applied: keys, failed: [] };
      } catch (err) {
        return { applied: [], failed: keys.map((key) => ({ key, error: errorMessage(err) })) };
      }
    });
  }
}

function render(objects: ReadonlyMap<string, SidecarObject>): string {
  const sorted = [...objects.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return sorted.map(([, o]) => `---\n${stringify(o, { lineWidth: 0 })}`).join('');
}
