// The status page's view of what the admin server is handed as loosely typed facts: the Sidecar
// reconciler's status and the sources' status from the readiness detail. Each value is narrowed;
// anything missing or of another type reads as absent, never as an error.

export interface SidecarSummary {
  readonly enabled: boolean;
  readonly sink: string | null;
  readonly managed: number | null;
  /** Observed (caller workload, target) pairs not ready yet, as the reconciler counts them. */
  readonly pendingPairs: number | null;
  readonly dryRun: boolean;
  readonly readBack: string | null;
  readonly lastWriteAt: string | null;
  readonly writeFailures: number | null;
  readonly conflicts: ReadonlyArray<{ readonly sidecar: string; readonly detail: string }>;
  readonly otherProblems: ReadonlyArray<{ readonly sidecar: string; readonly kind: string; readonly detail: string }>;
}

export interface SourceSummary {
  readonly name: string;
  readonly synced: boolean;
  readonly version: string | null;
  readonly lastChangeAt: string | null;
  readonly lastError: string | null;
  readonly loads: number | null;
  readonly errors: number | null;
}

function record(v: unknown): Record<string, unknown> | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export function sidecarSummary(s: { readonly enabled: boolean; readonly status: Record<string, unknown> }): SidecarSummary {
  const st = s.status;
  const problems = Array.isArray(st['problems']) ? st['problems'].map(record).filter((p): p is Record<string, unknown> => p !== null) : [];
  const shaped = problems.map((p) => ({ sidecar: str(p['sidecar']) ?? '?', kind: str(p['kind']) ?? '?', detail: str(p['detail']) ?? '' }));
  const writes = record(st['writes']);
  return {
    enabled: s.enabled,
    sink: str(st['sink']),
    managed: num(st['managed']),
    pendingPairs: num(st['pendingPairs']),
    dryRun: st['dryRun'] === true,
    readBack: str(st['readBack']),
    lastWriteAt: str(st['lastWriteAt']),
    writeFailures: writes ? num(writes['errors']) : null,
    conflicts: shaped.filter((p) => p.kind === 'conflict').map(({ sidecar, detail }) => ({ sidecar, detail })),
    otherProblems: shaped.filter((p) => p.kind !== 'conflict'),
  };
}

export function sourceSummaries(readyDetail: Record<string, unknown>): SourceSummary[] {
  const list = Array.isArray(readyDetail['sources']) ? readyDetail['sources'] : [];
  return list
    .map(record)
    .filter((s): s is Record<string, unknown> => s !== null)
    .map((s) => {
      const changed = num(s['lastChangeAt']);
      return {
        name: str(s['name']) ?? '?',
        synced: s['synced'] === true,
        version: str(s['version']),
        lastChangeAt: changed === null ? null : new Date(changed).toISOString(),
        lastError: str(s['lastError']),
        loads: num(s['loads']),
        errors: num(s['errors']),
      };
    });
}
