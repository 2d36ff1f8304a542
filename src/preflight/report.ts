// What preflight reports: one line per check, each a pass, a warning or a blocker with its reason
// and, unless it passed, the fix. Blockers make the command exit non-zero.

export type CheckStatus = 'pass' | 'warn' | 'blocker';

export interface CheckResult {
  /** Stable identifier (for scripts reading `-o json`), e.g. `consul-control-key-write`. */
  readonly id: string;
  readonly status: CheckStatus;
  /** One line: what was found. */
  readonly reason: string;
  /** One line: what to do about it (absent on a pass). */
  readonly fix?: string;
}

export interface PreflightReport {
  readonly checks: readonly CheckResult[];
  readonly summary: { readonly pass: number; readonly warn: number; readonly blocker: number };
  /** No blocker. */
  readonly ok: boolean;
}

export function pass(id: string, reason: string): CheckResult {
  return { id, status: 'pass', reason };
}

export function warn(id: string, reason: string, fix: string): CheckResult {
  return { id, status: 'warn', reason, fix };
}

export function blocker(id: string, reason: string, fix: string): CheckResult {
  return { id, status: 'blocker', reason, fix };
}

export function report(checks: readonly CheckResult[]): PreflightReport {
  const count = (s: CheckStatus) => checks.filter((c) => c.status === s).length;
  const summary = { pass: count('pass'), warn: count('warn'), blocker: count('blocker') };
  return { checks, summary, ok: summary.blocker === 0 };
}

const LABEL: Record<CheckStatus, string> = { pass: 'PASS', warn: 'WARN', blocker: 'BLOCKER' };

/** The human form: status, id and reason on one line, the fix indented below. */
export function reportText(r: PreflightReport): string {
  const width = Math.max(0, ...r.checks.map((c) => c.id.length));
  const lines: string[] = [];
  for (const c of r.checks) {
    lines.push(`${LABEL[c.status].padEnd(8)} ${c.id.padEnd(width)}  ${c.reason}`);
    if (c.fix) lines.push(`${' '.repeat(9 + width)}  fix: ${c.fix}`);
  }
  const verdict = r.ok ? 'no blockers' : `${r.summary.blocker} blocker(s): fix them before the first service moves`;
  lines.push(`preflight: ${r.summary.pass} pass, ${r.summary.warn} warn, ${r.summary.blocker} blocker; ${verdict}`);
  return `${lines.join('\n')}\n`;
}

/** At most `n` items joined, with the count of the rest. */
export function some(items: readonly string[], n = 5): string {
  return items.length <= n ? items.join(', ') : `${items.slice(0, n).join(', ')} and ${items.length - n} more`;
}
