// Injected failures: the next matching requests answer with an error Status, the next PUTs with a
// 409 Conflict, and whether watches are stalled. Which requests match is shared with the stats.

export interface RequestMatch {
  /** HTTP method, upper case (GET, PUT, ...). */
  readonly method?: string;
  /** The request path (without the query) starts with this. */
  readonly pathPrefix?: string;
  /** Only watch requests (true) or only non-watch requests (false). */
  readonly watch?: boolean;
}

export interface RequestFacts {
  readonly method: string;
  readonly path: string;
  readonly watch: boolean;
}

export function requestMatches(match: RequestMatch | undefined, facts: RequestFacts): boolean {
  if (!match) return true;
  if (match.method !== undefined && match.method.toUpperCase() !== facts.method) return false;
  if (match.pathPrefix !== undefined && !facts.path.startsWith(match.pathPrefix)) return false;
  if (match.watch !== undefined && match.watch !== facts.watch) return false;
  return true;
}

interface Rule {
  remaining: number | 'always';
  readonly match: RequestMatch | undefined;
}

interface FailRule extends Rule {
  readonly status: number;
}

function checkCount(what: string, count: unknown, allowAlways: boolean): void {
  if (allowAlways && count === 'always') return;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) {
    throw new RangeError(`${what}: count must be a non-negative integer${allowAlways ? " or 'always'" : ''}, got ${String(count)}`);
  }
}

function take<R extends Rule>(rules: R[], facts: RequestFacts): R | null {
  const rule = rules.find((r) => requestMatches(r.match, facts));
  if (!rule) return null;
  if (rule.remaining !== 'always') {
    rule.remaining -= 1;
    if (rule.remaining <= 0) rules.splice(rules.indexOf(rule), 1);
  }
  return rule;
}

export class FaultState {
  private readonly failRules: FailRule[] = [];
  private readonly conflictRules: Rule[] = [];
  stalled = false;

  /** Adds a rule: the next `count` matching requests (or all, 'always') fail; 0 removes every rule. */
  fail(count: number | 'always', status = 500, match?: RequestMatch): void {
    checkCount('faults.fail', count, true);
    if (!Number.isInteger(status) || status < 400 || status > 599) throw new RangeError(`faults.fail: status must be an HTTP error code (400-599), got ${status}`);
    if (count === 0) {
      this.failRules.length = 0;
      return;
    }
    this.failRules.push({ remaining: count, status, match });
  }

  /** Adds a rule: the next `count` matching PUTs answer 409 Conflict; 0 removes every rule. */
  conflicts(count: number, match?: { pathPrefix?: string }): void {
    checkCount('faults.conflicts', count, false);
    if (count === 0) {
      this.conflictRules.length = 0;
      return;
    }
    this.conflictRules.push({ remaining: count, match: { method: 'PUT', ...(match?.pathPrefix !== undefined ? { pathPrefix: match.pathPrefix } : {}) } });
  }

  /** The status this request must fail with, consuming one use of the rule; null to serve it. */
  takeFailure(facts: RequestFacts): number | null {
    return take(this.failRules, facts)?.status ?? null;
  }

  /** Whether this PUT must answer 409 Conflict, consuming one use of the rule. */
  takeConflict(facts: RequestFacts): boolean {
    return take(this.conflictRules, facts) !== null;
  }
}
