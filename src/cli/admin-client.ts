// The CLI's side of the admin API: plain HTTP with the bearer token, errors turned into one line.

import { userInfo, hostname } from 'node:os';
import { DiscoveryError } from '../platform/errors.ts';

/** The admin API answered with an error status; `body` is its parsed answer. */
export class AdminApiError extends DiscoveryError {
  readonly status: number;
  readonly body: unknown;

  constructor(status: number, message: string, body: unknown) {
    super('DSC_ERR_ADMIN', message);
    this.name = 'AdminApiError';
    this.status = status;
    this.body = body;
  }
}

export interface AdminTarget {
  readonly addr: string;
  readonly token: string | null;
}

function actor(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (containers): keep "unknown".
  }
  return `${user}@${hostname()}`;
}

export async function adminCall(target: AdminTarget, method: 'GET' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<unknown> {
  const headers: Record<string, string> = { 'x-discovery-actor': actor() };
  if (target.token) headers['authorization'] = `Bearer ${target.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(`http://${target.addr}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new DiscoveryError('DSC_ERR_ADMIN', `cannot reach the Discovery admin API at ${target.addr} (${cause}); is \`discovery serve\` running? (--admin-addr / DISCOVERY_ADMIN_ADDR)`);
  }
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Non-JSON bodies (metrics) stay text.
  }
  if (!res.ok) {
    const msg = typeof parsed === 'object' && parsed !== null && 'error' in parsed ? String(parsed.error) : text;
    throw new AdminApiError(res.status, `admin API answered ${res.status}: ${msg}`, parsed);
  }
  return parsed;
}
