// The request and reply surface the read path uses. FastifyRequest/FastifyReply satisfy it, and so
// does the fast path's own pair (fast-path.ts), so both run the very same handler code.

import type { IncomingHttpHeaders, ServerResponse } from 'node:http';

export interface ReadRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  readonly socket: { readonly remoteAddress?: string | undefined };
  readonly params: unknown;
}

export interface ReadReply {
  readonly raw: ServerResponse;
  hijack(): unknown;
  code(status: number): ReadReply;
  header(name: string, value: string): ReadReply;
  send(body?: string | Buffer): unknown;
}

export type ReadHandler = (req: ReadRequest, reply: ReadReply) => void;
