// metav1.Status bodies as the Kubernetes API server writes them for its errors (the reasons,
// codes and message formats of k8s.io/apimachinery's api/errors constructors).

import { qualifiedKind, qualifiedResource, type ResourceType } from './resources.ts';

export interface StatusCause {
  readonly reason?: string;
  readonly message?: string;
  readonly field?: string;
}

export interface StatusDetails {
  readonly name?: string;
  readonly group?: string;
  /** For most errors this is the resource (plural), as the API server fills it. */
  readonly kind?: string;
  readonly uid?: string;
  readonly causes?: readonly StatusCause[];
  readonly retryAfterSeconds?: number;
}

export interface StatusBody {
  readonly kind: 'Status';
  readonly apiVersion: 'v1';
  readonly metadata: Record<string, never>;
  readonly status: 'Failure' | 'Success';
  readonly message?: string;
  readonly reason?: string;
  readonly details?: StatusDetails;
  readonly code?: number;
}

/** A request failed with this Status; the HTTP layer writes it with `status.code`. */
export class KubeStatusError extends Error {
  readonly status: StatusBody;
  constructor(status: StatusBody) {
    super(status.message ?? status.reason ?? `status ${status.code ?? 500}`);
    this.status = status;
  }
  get code(): number {
    return this.status.code ?? 500;
  }
}

/** The message of every optimistic-concurrency conflict. */
export const OPTIMISTIC_LOCK_MESSAGE = 'the object has been modified; please apply your changes to the latest version and try again';

function failure(code: number, reason: string, message: string, details?: StatusDetails): KubeStatusError {
  const body: StatusBody = details
    ? { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, details, code }
    : { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  return new KubeStatusError(body);
}

function resourceDetails(type: ResourceType, name: string): StatusDetails {
  return type.group === '' ? { name, kind: type.plural } : { name, group: type.group, kind: type.plural };
}

export function notFound(type: ResourceType, name: string): KubeStatusError {
  return failure(404, 'NotFound', `${qualifiedResource(type)} "${name}" not found`, resourceDetails(type, name));
}

export function alreadyExists(type: ResourceType, name: string): KubeStatusError {
  return failure(409, 'AlreadyExists', `${qualifiedResource(type)} "${name}" already exists`, resourceDetails(type, name));
}

export function conflict(type: ResourceType, name: string, why: string = OPTIMISTIC_LOCK_MESSAGE): KubeStatusError {
  return failure(409, 'Conflict', `Operation cannot be fulfilled on ${qualifiedResource(type)} "${name}": ${why}`, resourceDetails(type, name));
}

/** One field error: `Invalid value: <value>: <detail>` or `Required value: <detail>`. */
export interface FieldError {
  readonly field: string;
  readonly type: 'FieldValueInvalid' | 'FieldValueRequired';
  readonly detail: string;
  /** The rejected value as Go's %#v prints it (`"x"`, `0x0`); only for FieldValueInvalid. */
  readonly value?: string;
}

function fieldErrorBody(e: FieldError): string {
  return e.type === 'FieldValueRequired' ? `Required value: ${e.detail}` : `Invalid value: ${e.value ?? '""'}: ${e.detail}`;
}

/**
 * 422 Invalid. `byResource` names the object by its resource (`sidecars.networking.istio.io`), as
 * the update precondition check does; validation names it by kind (`Sidecar.networking.istio.io`).
 */
export function invalid(type: ResourceType, name: string, errors: readonly FieldError[], byResource = false): KubeStatusError {
  const label = byResource ? qualifiedResource(type) : qualifiedKind(type);
  const bodies = errors.map((e) => `${e.field}: ${fieldErrorBody(e)}`);
  const summary = bodies.length === 1 ? bodies[0] : `[${bodies.join(', ')}]`;
  const causes = errors.map((e) => ({ reason: e.type, message: fieldErrorBody(e), field: e.field }));
  const kind = byResource ? type.plural : type.kind;
  const details: StatusDetails = type.group === '' ? { name, kind, causes } : { name, group: type.group, kind, causes };
  return failure(422, 'Invalid', `${label} "${name}" is invalid: ${summary}`, details);
}

export function badRequest(message: string): KubeStatusError {
  return failure(400, 'BadRequest', message);
}

/** 410 Expired, as for a resourceVersion older than the kept history. */
export function expired(message: string): KubeStatusError {
  return failure(410, 'Expired', message);
}

export function unauthorized(): KubeStatusError {
  return failure(401, 'Unauthorized', 'Unauthorized');
}

export function pathNotFound(): KubeStatusError {
  return failure(404, 'NotFound', 'the server could not find the requested resource', {});
}

export function methodNotAllowed(): KubeStatusError {
  return failure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {});
}

export function unsupportedMediaType(contentType: string): KubeStatusError {
  return failure(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json (got ${JSON.stringify(contentType)})`);
}

export function entityTooLarge(): KubeStatusError {
  return failure(413, 'RequestEntityTooLarge', 'Request entity too large: limit is 3145728');
}

export function internalError(cause: string): KubeStatusError {
  return failure(500, 'InternalError', `Internal error occurred: ${cause}`, { causes: [{ message: cause }] });
}

/** 504 for a watch or list from a resourceVersion the store has not reached. */
export function tooLargeResourceVersion(requested: number, current: number): KubeStatusError {
  return failure(504, 'Timeout', `Too large resource version: ${requested}, current: ${current}`, {
    causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
    retryAfterSeconds: 1,
  });
}

const REASON_BY_CODE: Readonly<Record<number, string>> = {
  400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed', 409: 'Conflict',
  410: 'Expired', 413: 'RequestEntityTooLarge', 415: 'UnsupportedMediaType', 422: 'Invalid', 429: 'TooManyRequests',
  500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout',
};

/** The Status an injected fault answers with: the reason the API server uses for that code. */
export function injectedFailure(code: number): KubeStatusError {
  if (code === 500) return internalError('injected fault');
  const reason = REASON_BY_CODE[code] ?? 'Unknown';
  const details = code === 429 || code === 503 ? { retryAfterSeconds: 1 } : undefined;
  return failure(code, reason, `injected fault (${code} ${reason})`, details);
}

/** The Success Status a DELETE answers with for types that do not return the object. */
export function deleteSuccess(type: ResourceType, name: string, uid: string): StatusBody {
  const details: StatusDetails = type.group === '' ? { name, kind: type.plural, uid } : { name, group: type.group, kind: type.plural, uid };
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details };
}
