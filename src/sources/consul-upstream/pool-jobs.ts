// The non-blocking requests the pool runs for the follower: a service's full read, its index
// probe, the services of a changed node, the node-level checks of a node without services, the
// service summaries that locate a change no watch named. Each
// answer lands in the CatalogModel; failures are retried with backoff, and an outage pauses the
// whole pool rather than letting every queued job fail in turn.

import type { RequestKind } from './blocking-watch.ts';
import { readTimeoutMs } from './blocking-watch.ts';
import type { CatalogModel } from './catalog-model.ts';
import { Backoff } from './pacing.ts';
import type { PoolJob } from './read-pool.ts';
import { ReadPool } from './read-pool.ts';
import type { FollowerDeps } from './catalog-follower.ts';
import { MalformedAnswer, readIndex, readJson, readNodeLevelChecks, readNodeServiceNames, readServiceInstances, readServiceSummaries } from './upstream-json.ts';

/** No instance has an empty node name, so this filter leaves `[]` and the service's real index. */
export const PROBE_FILTER = 'Node.Node == ""';

export function servicePath(name: string): string {
  return `/v1/health/service/${encodeURIComponent(name)}`;
}

/** What the jobs need from the follower. */
export interface JobHost {
  /** Bumped on an upstream index reset: answers to requests sent before it are dropped. */
  epoch(): number;
  synced(): boolean;
  isHot(key: string): boolean;
  requestRead(key: string): void;
  noteServiceIndex(index: number): void;
  checkDatacenter(): void;
  maybeSynced(): void;
  /** The service summaries as they are now (null: the upstream refused or mangled them). */
  summaries(summaries: ReadonlyMap<string, string> | null): void;
}

export const SUMMARIES_PATH = '/v1/internal/ui/services';

export class PoolJobs {
  readonly pool: ReadPool;
  readonly #deps: FollowerDeps;
  readonly #model: CatalogModel;
  readonly #host: JobHost;
  readonly #signal: AbortSignal;
  readonly #retries = new Map<string, Backoff>();
  readonly #outageBackoff: Backoff;

  constructor(deps: FollowerDeps, host: JobHost, signal: AbortSignal) {
    this.#deps = deps;
    this.#model = deps.model;
    this.#host = host;
    this.#signal = signal;
    this.#outageBackoff = new Backoff(deps.random);
    this.pool = new ReadPool(deps.clock, deps.poolSize, (job) => this.#run(job));
  }

  /** A service is gone: forget its retry state. */
  forget(key: string): void {
    this.#retries.delete(`read\0${key}`);
  }

  async #run(job: PoolJob): Promise<void> {
    const { key } = job;
    const model = this.#model;
    const host = this.#host;
    switch (job.kind) {
      case 'read': {
        const name = model.nameOf(key);
        if (name === undefined || host.isHot(key)) return;
        return this.#request(job, 'read', servicePath(name), 'stale', (body, index, epoch) => {
          const read = readServiceInstances(body, this.#deps.conv);
          host.checkDatacenter();
          host.noteServiceIndex(index);
          // Older than what a hot watch or a later read already applied, or sent before an index reset.
          if (epoch !== host.epoch() || index < model.indexOf(key)) return;
          if (model.applyService(key, read.instances, index) && host.synced()) this.#deps.changed();
          host.maybeSynced();
        });
      }
      case 'probe': {
        const name = model.nameOf(key);
        if (name === undefined || host.isHot(key) || !model.hasData(key)) return;
        return this.#request(job, 'probe', servicePath(name), `stale&filter=${encodeURIComponent(PROBE_FILTER)}`, (body, index, epoch) => {
          if (!Array.isArray(body)) throw new MalformedAnswer('expected a JSON array');
          host.noteServiceIndex(index);
          if (epoch === host.epoch() && index !== model.indexOf(key)) host.requestRead(key);
        });
      }
      case 'node-services':
        return this.#request(job, 'node-services', `/v1/catalog/node-services/${encodeURIComponent(key)}`, 'stale', (body) => {
          const names = readNodeServiceNames(body);
          // The services on the node now, and those that were on it (an instance may have moved away).
          const keys = new Set([...names.map((n) => n.toLowerCase()), ...model.servicesOnNode(key)]);
          for (const k of keys) host.requestRead(k);
          if (names.length === 0 && model.nodeListed(key)) this.pool.add({ kind: 'node-health', key });
        });
      case 'summaries':
        return this.#request(
          job,
          'summaries',
          SUMMARIES_PATH,
          'stale',
          (body) => host.summaries(readServiceSummaries(body)),
          () => host.summaries(null),
        );
      case 'node-health':
        return this.#request(job, 'node-health', `/v1/health/node/${encodeURIComponent(key)}`, 'stale', (body) => {
          const checks = readNodeLevelChecks(body, key);
          if (model.nodeListed(key) && model.setNodeChecks(key, checks) && host.synced()) this.#deps.changed();
          host.maybeSynced();
        });
    }
  }

  /** One non-blocking request; failures are retried with backoff (an outage pauses the whole pool). */
  async #request(job: PoolJob, kind: RequestKind, path: string, query: string, use: (body: unknown, index: number, epoch: number) => void, refused?: () => void): Promise<void> {
    const { http, clock, waitMs, record } = this.#deps;
    const signal = this.#signal;
    const startedAt = clock.now();
    const epoch = this.#host.epoch();
    const id = `${job.kind}\0${job.key}`;
    try {
      const answer = await http.get(path, query, readTimeoutMs(waitMs), signal);
      if (signal.aborted) return;
      use(readJson(answer.body), readIndex(answer.index), epoch);
      this.#retries.delete(id);
      this.#outageBackoff.reset();
      record(kind, path, startedAt, null);
    } catch (err) {
      if (signal.aborted) return;
      const outcome = record(kind, path, startedAt, err);
      if (outcome === 'outage') {
        this.pool.pauseFor(this.#outageBackoff.next());
        // Probes are dropped: the sweep after recovery covers them.
        if (job.kind !== 'probe') this.pool.add(job);
      } else if (outcome === 'refused' && refused) {
        // The caller has another way to get there (summaries: the index-probe sweep); no retry.
        refused();
      } else if (outcome === 'refused') {
        let backoff = this.#retries.get(id);
        if (!backoff) this.#retries.set(id, (backoff = new Backoff(this.#deps.random)));
        this.pool.later(job, backoff.next());
      }
    }
  }
}
