// Injected faults that the request path consults: failing the next N requests with Consul's error
// texts, and malformed answers to reads.

export type MalformedKind = 'not-json' | 'no-index' | 'bad-index' | 'missing-fields';

/** What Consul (as a client agent) sends with these statuses. */
const FAILURE_TEXT: Readonly<Record<number, string>> = {
  500: 'rpc error making call: No cluster leader',
  403: 'rpc error making call: ACL not found',
  404: 'Invalid URL path: not a recognized HTTP API endpoint\n',
  // Consul answers an RPC rate-limit error with a bare 429 (agent/http.go handleErr).
  429: '',
  503: 'rpc error making call: rate limit exceeded, try again later',
};

export function failureText(status: number): string {
  return FAILURE_TEXT[status] ?? `Unexpected error (${status})`;
}

export class FaultState {
  hanging = false;
  private failRule: { remaining: number | 'always'; status: number; prefix: string } | null = null;
  private malformedRule: { kind: MalformedKind; prefix: string } | null = null;

  fail(count: number | 'always', status: number, prefix: string): void {
    this.failRule = count === 0 ? null : { remaining: count, status, prefix };
  }

  /** The status to fail this request with, consuming one of the N failures; null to serve it. */
  takeFailure(path: string): number | null {
    const rule = this.failRule;
    if (!rule || !path.startsWith(rule.prefix)) return null;
    if (rule.remaining !== 'always') {
      rule.remaining -= 1;
      if (rule.remaining <= 0) this.failRule = null;
    }
    return rule.status;
  }

  malformed(kind: MalformedKind | null, prefix: string): void {
    this.malformedRule = kind === null ? null : { kind, prefix };
  }

  malformedFor(path: string): MalformedKind | null {
    const rule = this.malformedRule;
    return rule && path.startsWith(rule.prefix) ? rule.kind : null;
  }
}

/** 'missing-fields': every object in the answer keeps only its first field; a map's list values become null. */
export function stripFields(value: unknown): unknown {
  const firstOnly = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
    const [first] = Object.entries(v);
    return first ? { [first[0]]: first[1] } : {};
  };
  if (Array.isArray(value)) return value.map(firstOnly);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = Array.isArray(v) ? null : firstOnly(v);
    return out;
  }
  return value;
}
