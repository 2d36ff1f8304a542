// The parts of the HTTP front end that exist only in live mode, built together from the upstream
// the wiring hands over: a bounded connection pool to the upstream agent for callers' passthrough
// (idle sockets beyond the non-blocking share are closed: each counts against the agent's limit
// per client address), a small one of Discovery's own for ACL probes, the gate in front of every
// request, and the upstream facts Discovery's own answers carry.

import type { Core } from '../../lookup/core.ts';
import { AclCheck } from './acl-check.ts';
import { LiveGate } from './live-gate.ts';
import { Passthrough } from './passthrough.ts';
import { createPassthroughMetrics } from './passthrough-metrics.ts';
import { ACL_PROBE_SOCKETS, NON_BLOCKING_SOCKETS, UpstreamClient } from './upstream-client.ts';
import { UpstreamMetaSource, type AnswerMeta, type UpstreamConsul } from './upstream-view.ts';

export interface LiveMode {
  readonly gate: LiveGate;
  readonly passthrough: Passthrough;
  readonly acl: AclCheck | null;
  readonly answerMeta: () => AnswerMeta;
  /** Stops taking requests and cuts those in flight (shutdown). */
  close(): void;
  /** Closes the connections to the upstream (after the server has closed). */
  destroy(): void;
}

export function buildLiveMode(ctx: Core, upstream: UpstreamConsul): LiveMode {
  if (!Number.isInteger(upstream.maxBlocking) || upstream.maxBlocking < 1) throw new Error(`upstream maxBlocking must be a positive integer, got ${upstream.maxBlocking}`);
  const log = ctx.log.child({ component: 'passthrough' });
  const client = new UpstreamClient(upstream.url, upstream.maxBlocking + NON_BLOCKING_SOCKETS, NON_BLOCKING_SOCKETS);
  const aclClient = upstream.aclCheck ? new UpstreamClient(upstream.url, ACL_PROBE_SOCKETS) : null;
  const metrics = createPassthroughMetrics(ctx.registry);
  const meta = new UpstreamMetaSource(upstream, () => ctx.clock.now());
  const onAclPolicy = (p: string | string[] | undefined): void => meta.observePolicy(p);
  const passthrough = new Passthrough({ client, maxBlocking: upstream.maxBlocking, metrics, log, onAclPolicy });
  const acl = aclClient ? new AclCheck({ client: aclClient, ttlMs: upstream.aclCacheTtlMs, now: () => ctx.clock.now(), metrics, log, onAclPolicy }) : null;
  const gate = new LiveGate({ ctx, upstream, passthrough, acl });
  return {
    gate,
    passthrough,
    acl,
    answerMeta: meta.current,
    close() {
      gate.closing = true;
      passthrough.close();
    },
    destroy: () => {
      client.destroy();
      aclClient?.destroy();
    },
  };
}
