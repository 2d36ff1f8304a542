// What a failed Kubernetes API call says, in one shape. client-node throws ApiException with the
// HTTP code and the response body as the raw text the server sent (a JSON Status), or a plain
// error when no answer came (connection refused, timeout).

import { ApiException } from '@kubernetes/client-node';
import { errorMessage } from '../../platform/errors.ts';

export interface ApiFailure {
  /** HTTP status, or null when the server gave no answer. */
  readonly code: number | null;
  /** The Status reason (`Conflict`, `AlreadyExists`, `NotFound`, …), or '' when there is none. */
  readonly reason: string;
  /** One line naming the status and the server's message. */
  readonly message: string;
}

function statusOf(body: unknown): { reason: string; message: string } {
  let value = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      return { reason: '', message: body.slice(0, 300) };
    }
  }
  if (value === null || typeof value !== 'object') return { reason: '', message: '' };
  const s = value as Record<string, unknown>;
  return { reason: typeof s['reason'] === 'string' ? s['reason'] : '', message: typeof s['message'] === 'string' ? s['message'] : '' };
}

export function apiFailure(err: unknown): ApiFailure {
  if (err instanceof ApiException) {
    const code = (err as ApiException<unknown>).code;
    const { reason, message } = statusOf((err as ApiException<unknown>).body);
    return { code, reason, message: `HTTP ${code}${reason ? ` ${reason}` : ''}${message ? `: ${message}` : ''}` };
  }
  if (err instanceof Error && err.name === 'AbortError') return { code: null, reason: '', message: 'no answer before the request timeout' };
  return { code: null, reason: '', message: errorMessage(err) };
}

export const isNotFound = (f: ApiFailure): boolean => f.code === 404;
/** 409: a stale resourceVersion (Conflict), a create race (AlreadyExists) or a failed delete precondition. */
export const isConflict = (f: ApiFailure): boolean => f.code === 409;
