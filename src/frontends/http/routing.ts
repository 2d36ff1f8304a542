// Route registration with Consul's method rules: a read endpoint answers GET, OPTIONS gets 200
// with Allow, and every other method gets 405 with Consul's body (agent/http.go wrap).

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TEXT } from './reply.ts';

type Handler = (req: FastifyRequest, reply: FastifyReply) => void | Promise<void>;

const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;

export function methodGuard(allowed: readonly string[]): Handler {
  const allow = ['OPTIONS', ...allowed].join(',');
  return (req, reply) => {
    reply.raw.setHeader('Allow', allow);
    if (req.method === 'OPTIONS') {
      reply.code(200).send();
      return;
    }
    reply.code(405).header('content-type', TEXT).send(`method ${req.method} not allowed`);
  };
}

/** Registers `handler` for `method` at `url` and the 405/OPTIONS answer for every other method. */
export function route(app: FastifyInstance, method: 'GET' | 'PUT', url: string, handler: Handler): void {
  app.route({ method, url, handler });
  app.route({ method: ALL_METHODS.filter((m) => m !== method), url, handler: methodGuard([method]) });
}
