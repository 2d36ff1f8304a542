// In-memory sink for tests and the model test: records every call and can be told to fail.

import type { ApplyResult, ReadBack, SidecarObject, SidecarRef, SidecarSink, SidecarWrite } from './sidecar-sink.ts';
import { assertManaged, sidecarKey } from './sidecar-sink.ts';

export interface MemorySinkFaults {
  /** The next N readBack() calls fail. */
  failReads: number;
  /** The next N apply()/delete() calls fail as a whole. */
  failWrites: number;
}

export class MemorySidecarSink implements SidecarSink {
  readonly name = 'memory';
  readonly objects = new Map<string, SidecarObject>();
  /** Every object passed to apply(), in order (including refused ones). */
  readonly writes: SidecarObject[] = [];
  readonly deletes: string[] = [];
  readonly faults: MemorySinkFaults = { failReads: 0, failWrites: 0 };

  async readBack(): Promise<ReadBack> {
    if (this.faults.failReads > 0) {
      this.faults.failReads--;
      return { ok: false, error: 'injected read failure' };
    }
    return { ok: true, sidecars: [...this.objects.values()].map(clone) };
  }

  async apply(writes: readonly SidecarWrite[]): Promise<ApplyResult> {
    const objects = writes.map((w) => w.object);
    this.writes.push(...objects.map(clone));
    if (this.faults.failWrites > 0) {
      this.faults.failWrites--;
      return { applied: [], failed: objects.map((o) => ({ key: sidecarKey(o), error: 'injected write failure' })) };
    }
    const applied: string[] = [];
    const failed: Array<{ key: string; error: string }> = [];
    for (const o of objects) {
      try {
        assertManaged(o);
        this.objects.set(sidecarKey(o), clone(o));
        applied.push(sidecarKey(o));
      } catch (err) {
        failed.push({ key: sidecarKey(o), error: (err as Error).message });
      }
    }
    return { applied, failed };
  }

  async delete(refs: readonly SidecarRef[]): Promise<ApplyResult> {
    if (this.faults.failWrites > 0) {
      this.faults.failWrites--;
      return { applied: [], failed: refs.map((r) => ({ key: sidecarKey(r), error: 'injected write failure' })) };
    }
    for (const r of refs) {
      this.deletes.push(sidecarKey(r));
      this.objects.delete(sidecarKey(r));
    }
    return { applied: refs.map(sidecarKey), failed: [] };
  }
}

function clone(o: SidecarObject): SidecarObject {
  return structuredClone<SidecarObject>(o);
}
