// Writing answers: Consul's headers, plain-text errors, gzip from the answer cache.

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CachedAnswer } from './answer-cache.ts';
import { gzipOf } from './answer-cache.ts';
import type { Consistency } from './params.ts';
import { HttpError } from './params.ts';

export const TEXT = 'text/plain; charset=utf-8';
export const JSON_TYPE = 'application/json';

function acceptsGzip(req: FastifyRequest): boolean {
  const ae = req.headers['accept-encoding'];
  return typeof ae === 'string' && ae.includes('gzip');
}

/**
 * Consul's headers keep Go's canonical spelling on the wire (fastify would lower-case them), so
 * they go straight to the Node response. Every catalog/health answer carries them, blocking or not.
 */
export function setIndexHeaders(reply: FastifyReply, index: number, consistency: Consistency): void {
  const raw = reply.raw;
  raw.setHeader('X-Consul-Default-Acl-Policy', 'allow');
  raw.setHeader('X-Consul-Effective-Consistency', consistency);
  raw.setHeader('X-Consul-Index', String(index > 0 ? index : 1));
  raw.setHeader('X-Consul-Knownleader', 'true');
  raw.setHeader('X-Consul-Lastcontact', '0');
}

/** A cached JSON body, gzipped when the client accepts it and the body is large enough. */
export function sendJson(req: FastifyRequest, reply: FastifyReply, entry: CachedAnswer): void {
  reply.raw.setHeader('Vary', 'Accept-Encoding');
  reply.header('content-type', JSON_TYPE);
  const gz = acceptsGzip(req) ? gzipOf(entry) : null;
  if (gz) {
    reply.header('content-encoding', 'gzip');
    reply.send(gz);
  } else reply.send(entry.body);
}

/** JSON for answers that are not cached (agent and status endpoints). */
export function sendJsonText(reply: FastifyReply, body: string): void {
  reply.raw.setHeader('X-Consul-Default-Acl-Policy', 'allow');
  // A Buffer, so fastify does not append `; charset=utf-8` (Consul sends the bare type).
  reply.header('content-type', JSON_TYPE).send(Buffer.from(body));
}

export function sendError(reply: FastifyReply, status: number, message: string): void {
  reply.code(status).header('content-type', TEXT).send(message);
}

/** HttpError → its status and text; anything else is a 500 with the message (never a crash). */
export function sendFailure(reply: FastifyReply, err: unknown): void {
  if (err instanceof HttpError) sendError(reply, err.status, err.message);
  else {
    reply.log.error({ err }, 'HTTP handler failed');
    sendError(reply, 500, err instanceof Error ? err.message : String(err));
  }
}
