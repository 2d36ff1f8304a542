// The one flow every catalog/health read goes through: validate the query, evaluate the answer,
// park it if the client's index is current (blocking query), and serve the cached bytes.

import type { ReadReply, ReadRequest } from './exchange.ts';
import type { Core } from '../../lookup/core.ts';
import type { AnswerCache, CachedAnswer } from './answer-cache.ts';
import { blockingTimeoutMs, Waiter, type FlushScope, type WaiterRegistry, type WakeReason } from './blocking.ts';
import { parseQueryString, parseReadOptions, type Query, type ReadOptions, HttpError } from './params.ts';
import { answerBody, answerHeaders, sendFailure, writeAnswer, writeAnswerBytes } from './reply.ts';
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
  /**
   * Parked queries whose endpoints have the same key get the same index and the same body (same
   * caller, same slot): a wake-up pass evaluates one of them and answers the others alike. Null or
   * absent: evaluated alone.
   */
  readonly shareKey?: string | null;
  /**
   * `observe` is true for the request's first evaluation only (wake-ups are not new lookups).
   * `index`: the current index when the caller has just read it, so it is not read again.
   */
  evaluate(observe: boolean, index?: number): Answer;
  /** Current index without building anything: what woken waiters compare. */
  index(): number;
  /** Counts one more lookup answered with `a`, evaluated for another query of the same key (each answer is one lookup). */
  countShared?(a: Answer): void;
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

function metaOf(deps: HttpDeps): AnswerMeta {
  return deps.answerMeta === undefined ? EMBEDDED_META : deps.answerMeta();
}

function send(deps: HttpDeps, req: ReadRequest, reply: ReadReply, o: ReadOptions, a: Answer, extraHeaders: readonly string[]): void {
  let entry;
  try {
    entry = deps.cache.get(a.slot, a.version, a);
  } catch (err) {
    sendFailure(reply, err);
    return;
  }
  writeAnswer(req, reply, entry, a.index, o.consistency, extraHeaders, metaOf(deps));
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
  const parked = new ParkedRead(deps, req, reply, o, ep, extraHeaders);
  deps.waiters.park(parked, blockingTimeoutMs(o.waitMs, deps.random));
  // Client gone before the answer: free the waiter (docs/consul-contract.md#blocking-queries).
  // `on`, not `once`: the response is discarded after its one 'close', and a once-wrapper costs an
  // object per parked query plus a removal inside the fan-out.
  reply.raw.on('close', parked.onClose);
}

/**
 * What the woken queries of one key share within a pass: the index, then (when it moved) the
 * evaluation, its cached body or the error building it, and the header list of the last reply
 * written from it (reused while the reply's own inputs are the same).
 */
interface SharedRead {
  readonly index: number;
  answer: Answer | undefined;
  entry: CachedAnswer | undefined;
  failure: { readonly err: unknown } | undefined;
  headers: readonly string[] | undefined;
  headersBody: Buffer | undefined;
  headersConsistency: string | undefined;
  headersExtra: readonly string[] | undefined;
  headersMeta: AnswerMeta | undefined;
}

/** A parked read: everything its answer needs, and the registry's bookkeeping (Waiter). */
class ParkedRead extends Waiter {
  readonly service: string | null;
  readonly callerIp: string | null;
  readonly index: number;
  readonly #deps: HttpDeps;
  readonly #req: ReadRequest;
  readonly #reply: ReadReply;
  readonly #o: ReadOptions;
  readonly #ep: ReadEndpoint;
  readonly #extraHeaders: readonly string[];
  readonly #shareKey: string | null;
  /** The index read by currentIndex in this pass, kept so the answer does not read it again. */
  #index = 0;

  constructor(deps: HttpDeps, req: ReadRequest, reply: ReadReply, o: ReadOptions, ep: ReadEndpoint, extraHeaders: readonly string[]) {
    super();
    this.service = ep.service;
    this.callerIp = ep.callerIp;
    this.index = o.index;
    this.#deps = deps;
    this.#req = req;
    this.#reply = reply;
    this.#o = o;
    this.#ep = ep;
    this.#extraHeaders = extraHeaders;
    this.#shareKey = ep.shareKey ?? null;
  }

  onClose = (): void => {
    if (!this.#reply.raw.writableFinished) this.#deps.waiters.cancel(this);
  };

  #shared(scope: FlushScope): SharedRead {
    const key = this.#shareKey!;
    let s = scope.get(key) as SharedRead | undefined;
    if (s === undefined) {
      s = {
        index: this.#ep.index(),
        answer: undefined,
        entry: undefined,
        failure: undefined,
        headers: undefined,
        headersBody: undefined,
        headersConsistency: undefined,
        headersExtra: undefined,
        headersMeta: undefined,
      };
      scope.set(key, s);
    }
    return s;
  }

  currentIndex(scope: FlushScope): number {
    this.#index = this.#shareKey === null ? this.#ep.index() : this.#shared(scope).index;
    return this.#index;
  }

  answer(reason: WakeReason, scope: FlushScope | null): void {
    try {
      if (scope === null || this.#shareKey === null) {
        // A change pass has just read the index; a timeout or drain has not.
        send(this.#deps, this.#req, this.#reply, this.#o, reason === 'change' ? this.#ep.evaluate(false, this.#index) : this.#ep.evaluate(false), this.#extraHeaders);
      } else {
        this.#answerShared(scope);
      }
    } catch (err) {
      sendFailure(this.#reply, err);
    }
    this.#deps.onBlockingAnswer?.(reason);
  }

  #answerShared(scope: FlushScope): void {
    // Read in this pass by currentIndex (change), or read now by the first of its key (drain).
    const s = this.#shared(scope);
    if (s.answer === undefined) {
      s.answer = this.#ep.evaluate(false, s.index);
      try {
        s.entry = this.#deps.cache.get(s.answer.slot, s.answer.version, s.answer);
      } catch (err) {
        s.failure = { err };
      }
    } else {
      this.#ep.countShared?.(s.answer);
    }
    if (s.failure !== undefined) {
      sendFailure(this.#reply, s.failure.err);
      return;
    }
    const entry = s.entry!;
    const body = answerBody(this.#req, entry);
    const consistency = this.#o.consistency;
    const meta = metaOf(this.#deps);
    let headers = s.headers;
    if (headers === undefined || s.headersBody !== body || s.headersConsistency !== consistency || s.headersExtra !== this.#extraHeaders || s.headersMeta !== meta) {
      headers = answerHeaders(entry, body, s.answer.index, consistency, this.#extraHeaders, meta);
      s.headers = headers;
      s.headersBody = body;
      s.headersConsistency = consistency;
      s.headersExtra = this.#extraHeaders;
      s.headersMeta = meta;
    }
    writeAnswerBytes(this.#reply, headers, body);
  }
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
