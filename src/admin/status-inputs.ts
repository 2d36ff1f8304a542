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
  /** Where a live source reads from (credentials in a URL are dropped); null for a file. */
  readonly upstream: string | null;
  /** Live sources: whether the upstream follows (Consul: it answers; Kubernetes: not stale); null when the source does not say. */
  readonly following: boolean | null;
  /** Consul upstream: when it last answered. */
  readonly lastContactAt: string | null;
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

/** A URL without its user and password; anything that does not parse as a URL is not shown. */
function withoutCredentials(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  try {
    const u = new URL(v);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return null;
  }
}

function followingOf(detail: Record<string, unknown> | null): boolean | null {
  if (!detail) return null;
  if (typeof detail['reachable'] === 'boolean') return detail['reachable'];
  if (typeof detail['stale'] === 'boolean') return !detail['stale'];
  return null;
}

export function sourceSummaries(readyDetail: Record<string, unknown>): SourceSummary[] {
  const list = Array.isArray(readyDetail['sources']) ? readyDetail['sources'] : [];
  return list
    .map(record)
    .filter((s): s is Record<string, unknown> => s !== null)
    .map((s) => {
      const changed = num(s['lastChangeAt']);
      const detail = record(s['detail']);
      const contact = detail ? num(detail['lastContactAt']) : null;
      return {
        name: str(s['name']) ?? '?',
        synced: s['synced'] === true,
        version: str(s['version']),
        lastChangeAt: changed === null ? null : new Date(changed).toISOString(),
        lastError: str(s['lastError']),
        loads: num(s['loads']),
        errors: num(s['errors']),
        upstream: detail ? (withoutCredentials(detail['url']) ?? withoutCredentials(detail['server'])) : null,
        following: followingOf(detail),
        lastContactAt: contact === null ? null : new Date(contact).toISOString(),
      };
    });
}
