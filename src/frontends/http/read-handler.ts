// The one flow every catalog/health read goes through: validate the query, evaluate the answer,
// park it if the client's index is current (blocking query), and serve the cached bytes.

import type { ReadReply, ReadRequest } from './exchange.ts';
import type { Core } from '../../lookup/core.ts';
import type { AnswerCache } from './answer-cache.ts';
import { blockingTimeoutMs, type WaiterRegistry, type WakeReason } from './blocking.ts';
import { parseQueryString, parseReadOptions, type Query, type ReadOptions, HttpError } from './params.ts';
import { sendFailure, writeAnswer } from './reply.ts';
import { EMBEDDED_META, type AnswerMeta } from './upstream-view.ts';

export interface HttpDeps {
  readonly ctx: Core;
  readonly cache: AnswerCache;
  readonly waiters: WaiterRegistry;
  readonly random: () => number;
  /** Called for each blocking query answered (bench instrumentation, tests). */
  readonly onBlockingAnswer?: ((reason: WakeReason) => void) | undefined;
  /** Upstream facts each answer carries (leader contact, ACL policy); live mode only. */
  readonly answerMeta?: (() => AnswerMeta) | undefined;
}

/** One evaluation of an endpoint: its index and a body identified by (slot, version). */
export interface Answer {
  readonly index: number;
  readonly slot: string;
  /** Compared with ===: the same version means the same bytes. */
  readonly version: unknown;
  /** Serializes the body; may throw HttpError (bad filter, bad ?passing), which is answered after any wait. */
  build(): string;
}

export interface ReadEndpoint {
  /** Lower-cased service name the answer depends on, or null (catalog-wide). */
  readonly service: string | null;
  /** Normalized caller IP when the answer depends on the caller. */
  readonly callerIp: string | null;
  /** `observe` is true for the request's first evaluation only (wake-ups are not new lookups). */
  evaluate(observe: boolean): Answer;
  /** Current index without building anything: what woken waiters compare. */
  index(): number;
}

/** Parses the query and the options; answers the error itself and returns null on a bad request. */
export function readOptions(deps: HttpDeps, req: ReadRequest, reply: ReadReply): { q: Query; o: ReadOptions } | null {
  try {
    const q = parseQueryString(req.url);
    return { q, o: parseReadOptions(q, req.headers, deps.ctx.config.datacenter) };
  } catch (err) {
    sendFailure(reply, err);
    return null;
  }
}

function send(deps: HttpDeps, req: ReadRequest, reply: ReadReply, o: ReadOptions, a: Answer, extraHeaders: readonly string[]): void {
  let entry;
  try {
    entry = deps.cache.get(a.slot, a.version, a);
  } catch (err) {
    sendFailure(reply, err);
    return;
  }
  writeAnswer(req, reply, entry, a.index, o.consistency, extraHeaders, deps.answerMeta === undefined ? EMBEDDED_META : deps.answerMeta());
}

const NO_HEADERS: readonly string[] = [];

/** `extraHeaders`: flat name/value list added to a successful answer (e.g. X-Consul-Query-Backend). */
export function serveRead(deps: HttpDeps, req: ReadRequest, reply: ReadReply, o: ReadOptions, ep: ReadEndpoint, extraHeaders = NO_HEADERS): void {
  let first: Answer;
  try {
    first = ep.evaluate(true);
  } catch (err) {
    sendFailure(reply, err);
    return;
  }
  if (o.index === 0 || first.index > o.index) {
    send(deps, req, reply, o, first, extraHeaders);
    return;
  }
  const cancel = deps.waiters.park(
    {
      service: ep.service,
      callerIp: ep.callerIp,
      index: o.index,
      currentIndex: () => ep.index(),
      answer: (reason) => {
        try {
          send(deps, req, reply, o, ep.evaluate(false), extraHeaders);
        } catch (err) {
          sendFailure(reply, err);
        }
        deps.onBlockingAnswer?.(reason);
      },
    },
    blockingTimeoutMs(o.waitMs, deps.random),
  );
  // Client gone before the answer: free the waiter (docs/consul-contract.md#blocking-queries).
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) cancel();
  });
}

// eslint-disable-next-line no-control-regex
const NON_PRINTABLE = /[\x00-\x1f\x7f]/;
const DOT_SEGMENT = /(?:^|\/)\.\.?(?:\/|$)/;

/** Path parameter after a subtree prefix, as Consul's ServeMux gives it; rejects names no service can have. */
export function pathParam(req: ReadRequest, missing: string): string {
  const v = (req.params as Record<string, string | undefined>)['*'] ?? '';
  if (v === '') throw new HttpError(400, missing);
  if (NON_PRINTABLE.test(v)) throw new HttpError(400, 'Invalid URL path: contains non-printable characters');
  if (DOT_SEGMENT.test(v)) throw new HttpError(400, 'Invalid URL path: dot segments are not allowed');
  return v;
}
