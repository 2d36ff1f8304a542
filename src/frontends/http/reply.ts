// Writing answers: Consul's headers, plain-text errors, gzip from the answer cache.

import type { ReadReply, ReadRequest } from './exchange.ts';
import type { Logger } from '../../platform/log.ts';
import type { CachedAnswer } from './answer-cache.ts';
import { gzipOf } from './answer-cache.ts';
import type { Consistency } from './params.ts';
import { HttpError } from './params.ts';
import type { AnswerMeta } from './upstream-view.ts';

export const TEXT = 'text/plain; charset=utf-8';
export const JSON_TYPE = 'application/json';

function acceptsGzip(req: ReadRequest): boolean {
  const ae = req.headers['accept-encoding'];
  return typeof ae === 'string' && ae.includes('gzip');
}

/** The bytes to send: the cached gzip when the client accepts it and the body is large enough, else the plain body. */
export function answerBody(req: ReadRequest, entry: CachedAnswer): Buffer {
  return (acceptsGzip(req) ? gzipOf(entry) : null) ?? entry.body;
}

/** Consul's headers for an answer of `body` (gzipped when it is not the entry's plain body), as a flat name/value list. */
export function answerHeaders(entry: CachedAnswer, body: Buffer, index: number, consistency: Consistency, extraHeaders: readonly string[], meta: AnswerMeta): string[] {
  const headers = [
    'X-Consul-Default-Acl-Policy', meta.aclPolicy,
    'X-Consul-Effective-Consistency', consistency,
    'X-Consul-Index', String(index > 0 ? index : 1),
    'X-Consul-Knownleader', meta.knownLeader,
    'X-Consul-Lastcontact', meta.lastContact,
    'Vary', 'Accept-Encoding',
    'Content-Type', JSON_TYPE,
    'Content-Length', String(body.length),
  ];
  if (body !== entry.body) headers.push('Content-Encoding', 'gzip');
  for (const h of extraHeaders) headers.push(h);
  return headers;
}

/**
 * The hot path of every catalog/health read: Consul's headers and the cached bytes written in one
 * `writeHead` with a flat header list (no per-header bookkeeping in fastify or Node), then `end`.
 * Nothing on this path may call `setHeader` first: Node then merges the list header by header.
 * Node only reads the list, so one list can serve many replies (blocking-query fan-out).
 * The reply is hijacked, so fastify's serializer and header handling are skipped; its response
 * listeners (onResponse: metrics) still run on 'finish'.
 */
export function writeAnswerBytes(reply: ReadReply, headers: readonly string[], body: Buffer): void {
  reply.hijack();
  reply.raw.writeHead(200, headers as string[]);
  reply.raw.end(body);
}

export function writeAnswer(req: ReadRequest, reply: ReadReply, entry: CachedAnswer, index: number, consistency: Consistency, extraHeaders: readonly string[], meta: AnswerMeta): void {
  const body = answerBody(req, entry);
  writeAnswerBytes(reply, answerHeaders(entry, body, index, consistency, extraHeaders, meta), body);
}

/** JSON for answers that are not cached (agent and status endpoints). */
export function sendJsonText(reply: ReadReply, body: string): void {
  reply.raw.setHeader('X-Consul-Default-Acl-Policy', 'allow');
  // A Buffer, so fastify does not append `; charset=utf-8` (Consul sends the bare type).
  reply.header('content-type', JSON_TYPE).send(Buffer.from(body));
}

export function sendError(reply: ReadReply, status: number, message: string): void {
  reply.code(status).header('content-type', TEXT).send(message);
}

let failureLog: Pick<Logger, 'error'> | undefined;

/** Where unexpected handler failures are logged (the fast path has no fastify logger). */
export function setFailureLog(log: Pick<Logger, 'error'>): void {
  failureLog = log;
}

/** HttpError → its status and text; anything else is a 500 with the message (never a crash). */
export function sendFailure(reply: ReadReply, err: unknown): void {
  if (err instanceof HttpError) sendError(reply, err.status, err.message);
  else {
    failureLog?.error({ err }, 'HTTP handler failed');
    sendError(reply, 500, err instanceof Error ? err.message : String(err));
  }
}
