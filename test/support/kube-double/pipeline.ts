// One request, start to end: logged, authenticated (bearer token), failed on purpose when a fault
// rule matches, then served as discovery or as a resource request. Errors go out as Status bodies.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ACCESS_REVIEW_PATH, forbidden, requestVerb, reviewAnswer, type AccessRules } from './access.ts';
import { sendJson, serveResource, type ApiDeps } from './api.ts';
import { discoveryDocument } from './discovery.ts';
import { openApiDocument } from './openapi.ts';
import { routeResource } from './routes.ts';
import { isWatchQuery, type RequestLog } from './stats.ts';
import { badRequest, entityTooLarge, injectedFailure, internalError, KubeStatusError, methodNotAllowed, pathNotFound, unauthorized, unsupportedMediaType } from './status.ts';

export interface PipelineDeps extends ApiDeps {
  readonly token: string;
  readonly log: RequestLog;
  readonly access: AccessRules;
  /** host:port clients reach the server at (for /api's serverAddressByClientCIDRs). */
  serverAddress(): string;
}

/** The API server's request body limit. */
const MAX_BODY_BYTES = 3 * 1024 * 1024;

export function handleRequest(deps: PipelineDeps, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://kube-double');
  const path = url.pathname;
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = v;
  const method = (req.method ?? 'GET').toUpperCase();
  const watch = isWatchQuery(query);
  const entry = deps.log.record(method, path, query);
  const noteStatus = (): void => {
    if (entry.status === 0 && res.headersSent) entry.status = res.statusCode;
  };
  res.on('finish', noteStatus);
  res.on('close', noteStatus);

  const fail = (err: unknown): void => {
    const status = err instanceof KubeStatusError ? err : internalError(err instanceof Error ? err.message : String(err));
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    sendJson(res, status.code, JSON.stringify(status.status));
  };

  try {
    if (req.headers.authorization !== `Bearer ${deps.token}`) throw unauthorized();
    const facts = { method, path, watch };
    const injected = deps.faults.takeFailure(facts);
    if (injected !== null) throw injectedFailure(injected);
    if (method === 'GET') {
      const doc = discoveryDocument(path, deps.serverAddress());
      if (doc) {
        sendJson(res, 200, JSON.stringify(doc));
        return;
      }
      const openApi = openApiDocument(path, req.headers.accept ?? '');
      if (openApi) {
        res.writeHead(200, { 'Content-Type': openApi.contentType, 'Content-Length': Buffer.byteLength(openApi.body) });
        res.end(openApi.body);
        return;
      }
    }
    if (path === ACCESS_REVIEW_PATH && method === 'POST') {
      readBody(req)
        .then((body) => sendJson(res, 201, JSON.stringify(reviewAnswer(deps.access, body))))
        .catch(fail);
      return;
    }
    const target = routeResource(path);
    if (!target) throw pathNotFound();
    const attributes = { verb: requestVerb(method, watch, target), group: target.type.group, resource: target.type.plural, namespace: target.namespace ?? '' };
    if (!deps.access.allowed(attributes)) throw forbidden(attributes);
    if (method === 'GET') {
      serveResource(deps, target, { ...facts, query, body: undefined }, res);
      entry.status = res.headersSent ? res.statusCode : entry.status;
      return;
    }
    if (method !== 'POST' && method !== 'PUT' && method !== 'DELETE') throw methodNotAllowed();
    readBody(req)
      .then((body) => serveResource(deps, target, { ...facts, query, body }, res))
      .catch(fail);
  } catch (err) {
    fail(err);
  }
}

/** Reads and parses a JSON body; undefined when the request has none. */
async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES) throw entityTooLarge();
    chunks.push(buf);
  }
  if (size === 0) return undefined;
  const contentType = (req.headers['content-type'] ?? 'application/json').split(';')[0]?.trim() ?? '';
  if (contentType !== 'application/json' && contentType !== '*/*') throw unsupportedMediaType(contentType);
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw badRequest(`couldn't get version/kind; json parse error: ${(err as Error).message}`);
  }
}
