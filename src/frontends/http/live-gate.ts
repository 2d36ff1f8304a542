// Live mode's first look at every request, before the fast path and fastify: pass it through to
// the upstream Consul agent, or let Discovery answer it. Passed through: everything while the
// kill-switch is on (invariant 5, docs/invariants.md: the answers are then the upstream's own
// bytes), what Discovery does not answer (live-routes.ts), discovery reads before the Consul
// source's first sync, and reads the caller's token may not fully see (acl-check.ts).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Core } from '../../lookup/core.ts';
import { callerToken, type AclCheck } from './acl-check.ts';
import { liveRoute, withoutDiscoveryIndex } from './live-routes.ts';
import type { Passthrough } from './passthrough.ts';
import type { UpstreamConsul } from './upstream-view.ts';

export type LocalHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface LiveGateOptions {
  readonly ctx: Core;
  readonly upstream: UpstreamConsul;
  readonly passthrough: Passthrough;
  /** null: the ACL check is off (every token gets Discovery's answer). */
  readonly acl: AclCheck | null;
}

export class LiveGate {
  readonly #o: LiveGateOptions;
  /** Set when the server starts closing: fastify then answers (503 on kept-alive sockets). */
  closing = false;

  constructor(o: LiveGateOptions) {
    this.#o = o;
  }

  /**
   * Returns false when Discovery answers the request now (the caller runs its own handlers), true
   * when the gate took it: passed through, or held while the token is checked and then either
   * passed through or handed to `local`.
   */
  route(req: IncomingMessage, res: ServerResponse, local: LocalHandler): boolean {
    if (this.closing) return false;
    const { ctx, upstream, passthrough, acl } = this.#o;
    const url = req.url ?? '/';
    const r = liveRoute(req.method ?? 'GET', url, ctx.config.datacenter);
    if (ctx.control.mode === 'consul-only') {
      passthrough.forward(req, res, 'killswitch', 'pass' in r ? url : withoutDiscoveryIndex(url));
      return true;
    }
    if ('pass' in r) {
      passthrough.forward(req, res, r.pass);
      return true;
    }
    if (r.scopes.length === 0) return false;
    if (!upstream.synced()) {
      passthrough.forward(req, res, 'unsynced', withoutDiscoveryIndex(url));
      return true;
    }
    if (acl === null) return false;
    const verdict = acl.mayRead(callerToken(url, req.headers), r.scopes);
    if (verdict === true) return false;
    if (verdict === false) {
      passthrough.forward(req, res, 'acl', withoutDiscoveryIndex(url));
      return true;
    }
    verdict.then(
      (allowed) => this.#resume(req, res, local, allowed),
      () => this.#resume(req, res, local, false),
    );
    return true;
  }

  #resume(req: IncomingMessage, res: ServerResponse, local: LocalHandler, allowed: boolean): void {
    // Caller gone while its token was checked: nothing to answer.
    if (res.destroyed || res.headersSent || req.socket.destroyed) return;
    try {
      if (allowed) local(req, res);
      else this.#o.passthrough.forward(req, res, 'acl', withoutDiscoveryIndex(req.url ?? '/'));
    } catch (err) {
      // Outside the request's own call stack nothing else would answer: the caller would wait forever.
      this.#o.ctx.log.error({ err, path: req.url?.split('?')[0] }, 'answering after the token check failed');
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('Discovery: internal error while answering\n');
    }
  }
}
