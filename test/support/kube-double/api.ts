// The resource verbs over HTTP: get, list, watch, create (POST), update (PUT, also /status) and
// delete, with the API server's rules for preconditions, status and identity.

import type { ServerResponse } from 'node:http';
import type { FaultState, RequestFacts } from './faults.ts';
import type { Lister } from './list.ts';
import type { ResourceTarget } from './routes.ts';
import { parseFieldSelector, parseLabelSelector } from './selectors.ts';
import { badRequest, conflict, deleteSuccess, internalError, invalid, methodNotAllowed, notFound, alreadyExists, pathNotFound } from './status.ts';
import { copyOf, type KubeObject, type ObjectStore, type StoredObject } from './store.ts';
import { decodeBody, validateObject } from './validate.ts';
import type { WatchRequest } from './watch.ts';

export interface ApiDeps {
  readonly store: ObjectStore;
  readonly lister: Lister;
  readonly faults: FaultState;
  openWatch(res: ServerResponse, request: WatchRequest): void;
}

export interface ApiRequest extends RequestFacts {
  readonly query: Readonly<Record<string, string>>;
  /** The parsed JSON body (POST, PUT, DELETE); undefined when none was sent. */
  readonly body: unknown;
}

export function sendJson(res: ServerResponse, code: number, json: string): void {
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json) });
  res.end(json);
}

/** Serves one resource request; throws a KubeStatusError the caller writes. */
export function serveResource(deps: ApiDeps, target: ResourceTarget, req: ApiRequest, res: ServerResponse): void {
  if (req.query.dryRun !== undefined) throw badRequest('dryRun is not supported by this test API server');
  const { subresource } = target;
  if (subresource !== null && subresource !== 'status') throw pathNotFound();
  if (subresource === 'status' && !target.type.statusSubresource) throw pathNotFound();
  switch (req.method) {
    case 'GET':
      if (req.watch) return openWatch(deps, target, req, res);
      if (target.name === null) return sendJson(res, 200, list(deps, target, req));
      return sendJson(res, 200, existingOrThrow(deps.store, target, target.name).json);
    case 'POST':
      if (target.name !== null) throw methodNotAllowed();
      return sendJson(res, 201, create(deps.store, target, req.body).json);
    case 'PUT':
      if (target.name === null) throw methodNotAllowed();
      return sendJson(res, 200, update(deps, target, target.name, req).json);
    case 'DELETE':
      if (target.name === null) throw methodNotAllowed();
      return sendJson(res, 200, remove(deps.store, target, target.name, req.body));
    default:
      throw methodNotAllowed();
  }
}

/** The namespace an object request addresses; the all-namespaces path of a namespaced type serves only list and watch. */
function objectNamespace(target: ResourceTarget): string | null {
  if (target.type.namespaced && target.namespace === null) throw methodNotAllowed();
  return target.namespace;
}

function existingOrThrow(store: ObjectStore, target: ResourceTarget, name: string): StoredObject {
  const existing = store.get(target.type, objectNamespace(target), name);
  if (!existing) throw notFound(target.type, name);
  return existing;
}

function list(deps: ApiDeps, target: ResourceTarget, req: ApiRequest): string {
  const q = req.query;
  const limit = q.limit === undefined || q.limit === '' ? null : Number(q.limit);
  if (limit !== null && (!Number.isInteger(limit) || limit < 0)) throw badRequest(`invalid limit: ${JSON.stringify(q.limit)}`);
  return deps.lister.respond({
    type: target.type,
    namespace: target.namespace,
    name: null,
    labels: parseLabelSelector(q.labelSelector),
    fields: parseFieldSelector(q.fieldSelector, target.type),
    limit: limit === 0 ? null : limit,
    continueToken: q.continue === undefined || q.continue === '' ? null : q.continue,
    resourceVersion: q.resourceVersion ?? null,
    resourceVersionMatch: q.resourceVersionMatch ?? null,
  });
}

function openWatch(deps: ApiDeps, target: ResourceTarget, req: ApiRequest, res: ServerResponse): void {
  const q = req.query;
  const rvText = q.resourceVersion ?? '';
  if (rvText !== '' && !/^\d+$/.test(rvText)) throw badRequest(`invalid resource version: ${JSON.stringify(rvText)}`);
  const timeout = q.timeoutSeconds === undefined || q.timeoutSeconds === '' ? null : Number(q.timeoutSeconds);
  if (timeout !== null && (!Number.isInteger(timeout) || timeout < 0)) throw badRequest(`invalid timeoutSeconds: ${JSON.stringify(q.timeoutSeconds)}`);
  deps.openWatch(res, {
    type: target.type,
    namespace: target.namespace,
    name: target.name,
    labels: parseLabelSelector(q.labelSelector),
    fields: parseFieldSelector(q.fieldSelector, target.type),
    bookmarks: q.allowWatchBookmarks === 'true',
    sendInitialEvents: q.sendInitialEvents === 'true',
    resourceVersion: rvText === '' || rvText === '0' ? null : Number(rvText),
    timeoutSeconds: timeout === null || timeout === 0 ? null : timeout,
  });
}

function create(store: ObjectStore, target: ResourceTarget, body: unknown): StoredObject {
  const { type } = target;
  const object = decodeBody(type, body, objectNamespace(target), null);
  if (type.statusSubresource) {
    if (type.initialStatus) object.status = type.initialStatus();
    else delete object.status;
  }
  validateObject(type, object);
  const rv = object.metadata.resourceVersion;
  if (rv !== undefined && rv !== '' && rv !== null) throw internalError('resourceVersion should not be set on objects to be created');
  const name = object.metadata.name as string;
  if (store.get(type, target.namespace, name)) throw alreadyExists(type, name);
  return store.insert(type, object);
}

function update(deps: ApiDeps, target: ResourceTarget, name: string, req: ApiRequest): StoredObject {
  const { type } = target;
  const decoded = decodeBody(type, req.body, objectNamespace(target), name);
  const existing = existingOrThrow(deps.store, target, name);
  const rv = textOf(decoded.metadata.resourceVersion);
  if (deps.faults.takeConflict(req)) throw conflict(type, name);
  if (rv === '') {
    if (!type.unconditionalUpdate) {
      throw invalid(type, name, [{ field: 'metadata.resourceVersion', type: 'FieldValueInvalid', value: '0x0', detail: 'must be specified for an update' }], true);
    }
  } else if (rv !== String(existing.rv)) throw conflict(type, name);
  const uid = textOf(decoded.metadata.uid);
  if (uid !== '' && uid !== existing.uid) {
    throw invalid(type, name, [{ field: 'metadata.uid', type: 'FieldValueInvalid', value: JSON.stringify(uid), detail: 'field is immutable' }]);
  }
  let object: KubeObject;
  if (target.subresource === 'status') {
    // The status subresource changes only .status; everything else stays as stored.
    object = copyOf(existing);
    if (decoded.status === undefined) delete object.status;
    else object.status = decoded.status;
  } else {
    object = decoded;
    if (type.statusSubresource) {
      if (existing.object.status === undefined) delete object.status;
      else object.status = existing.object.status;
    }
    validateObject(type, object);
  }
  return deps.store.replace(existing, object);
}

function remove(store: ObjectStore, target: ResourceTarget, name: string, body: unknown): string {
  const { type } = target;
  const existing = existingOrThrow(store, target, name);
  const pre = preconditionsOf(body);
  if (pre.uid !== undefined && pre.uid !== existing.uid) {
    throw conflict(type, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${existing.uid}`);
  }
  if (pre.resourceVersion !== undefined && pre.resourceVersion !== String(existing.rv)) {
    throw conflict(type, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${existing.rv}`);
  }
  const gone = store.remove(existing);
  return type.deleteReturnsObject ? gone.json : JSON.stringify(deleteSuccess(type, name, existing.uid));
}

function textOf(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
}

function preconditionsOf(body: unknown): { uid?: string; resourceVersion?: string } {
  if (body === null || typeof body !== 'object') return {};
  const pre = (body as { preconditions?: unknown }).preconditions;
  if (pre === null || typeof pre !== 'object') return {};
  const { uid, resourceVersion } = pre as { uid?: unknown; resourceVersion?: unknown };
  return {
    ...(typeof uid === 'string' && uid !== '' ? { uid } : {}),
    ...(typeof resourceVersion === 'string' && resourceVersion !== '' ? { resourceVersion } : {}),
  };
}
