// Live-mode sink: managed Sidecars in the Kubernetes API, shared by every replica. Each write is a
// read-modify-write (docs/adr/0009): GET the object fresh, merge this replica's write into it
// (sidecar-merge.ts), and write only if something changed, conditional on the version read. A 409
// means another replica got there first: read again, merge again, retry with jitter, and after
// maxAttempts report the entry failed (the reconciler keeps its observations and retries next cycle).
// An object without the managed-by label is never changed or deleted (invariant 4).

import { CustomObjectsApi, type ConfigurationOptions, type KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import { systemClock, type Clock } from '../../platform/clock.ts';
import { errorMessage } from '../../platform/errors.ts';
import type { Logger } from '../../platform/log.ts';
import { MANAGED_BY_DISCOVERY, MANAGED_BY_LABEL } from '../../world/kube-types.ts';
import type { ApplyResult, ReadBack, SidecarObject, SidecarRef, SidecarSink, SidecarWrite } from '../sidecar-sink.ts';
import { assertManaged, sidecarKey } from '../sidecar-sink.ts';
import { apiFailure, isConflict, isNotFound } from './api-errors.ts';
import { mapBounded } from './bounded.ts';
import { creationBody, replacementBody, SIDECAR_GROUP, SIDECAR_PLURAL, SIDECAR_VERSION, storedSidecar, type StoredSidecar } from './kube-sidecar-object.ts';
import { createKubeSinkMetrics, type KubeSinkMetrics, type WriteOp, type WriteResult } from './kube-sink-metrics.ts';
import { requestTimeout } from './request-options.ts';
import { mergeSidecar, sameSidecar } from './sidecar-merge.ts';

export interface KubeSidecarSinkOptions {
  readonly kubeConfig: KubeConfig;
  readonly log: Logger;
  readonly registry: Registry;
  /** Times the jittered backoff between attempts; the system clock unless given. */
  readonly clock?: Clock;
  /** [0, 1) source for the jitter; Math.random unless given. */
  readonly random?: () => number;
  /** Reads and writes per object before it is reported failed; 5 unless given. */
  readonly maxAttempts?: number;
  /** Objects written at the same time; 8 unless given. */
  readonly concurrency?: number;
  /** Each API request is abandoned after this long; 10 s unless given. */
  readonly requestTimeoutMs?: number;
  /** Sidecars per LIST page in readBack(); 500 unless given. */
  readonly pageSize?: number;
}

const SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY_DISCOVERY}`;

type Outcome = { readonly key: string; readonly error?: string };
type Read = { readonly found: false } | { readonly found: true; readonly stored: StoredSidecar };

export class KubeSidecarSink implements SidecarSink {
  readonly name = 'kubernetes';
  readonly #api: CustomObjectsApi;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #maxAttempts: number;
  readonly #concurrency: number;
  readonly #pageSize: number;
  readonly #request: ConfigurationOptions;
  readonly #metrics: KubeSinkMetrics;

  constructor(opts: KubeSidecarSinkOptions) {
    this.#api = opts.kubeConfig.makeApiClient(CustomObjectsApi);
    this.#log = opts.log.child({ component: 'kube-sidecar-sink' });
    this.#clock = opts.clock ?? systemClock;
    this.#random = opts.random ?? Math.random;
    this.#maxAttempts = Math.max(1, opts.maxAttempts ?? 5);
    this.#concurrency = Math.max(1, opts.concurrency ?? 8);
    this.#pageSize = Math.max(1, opts.pageSize ?? 500);
    this.#request = requestTimeout(opts.requestTimeoutMs ?? 10_000);
    this.#metrics = createKubeSinkMetrics(opts.registry);
  }

  /** Every managed Sidecar in every namespace, page by page; any failed page fails the whole read. */
  async readBack(): Promise<ReadBack> {
    const sidecars: SidecarObject[] = [];
    let cont: string | undefined;
    try {
      do {
        const page: unknown = await this.#api.listCustomObjectForAllNamespaces(
          { group: SIDECAR_GROUP, version: SIDECAR_VERSION, plural: SIDECAR_PLURAL, labelSelector: SELECTOR, limit: this.#pageSize, ...(cont ? { _continue: cont } : {}) },
          this.#request,
        );
        const { items, next } = pageOf(page);
        for (const item of items) {
          const stored = storedSidecar(item, 'list of Sidecars');
          if (stored.managed) sidecars.push(stored.object);
        }
        cont = next;
      } while (cont);
    } catch (err) {
      const error = `cannot list managed Sidecars: ${apiFailure(err).message}`;
      this.#log.warn({ error }, 'Sidecar read-back failed');
      return { ok: false, error };
    }
    return { ok: true, sidecars };
  }

  async apply(writes: readonly SidecarWrite[]): Promise<ApplyResult> {
    return collect(await mapBounded(writes, this.#concurrency, (w) => this.#applyOne(w)));
  }

  async delete(refs: readonly SidecarRef[]): Promise<ApplyResult> {
    return collect(await mapBounded(refs, this.#concurrency, (r) => this.#deleteOne(r)));
  }

  async #applyOne(write: SidecarWrite): Promise<Outcome> {
    const key = sidecarKey(write.object);
    try {
      assertManaged(write.object);
    } catch (err) {
      return this.#done('update', 'refused', key, errorMessage(err));
    }
    const { namespace, name } = write.object.metadata;
    let lastConflict = '';
    for (let attempt = 1; attempt <= this.#maxAttempts; attempt++) {
      if (attempt > 1) await this.#backoff(attempt - 1);
      let read: Read;
      try {
        read = await this.#read(namespace, name);
      } catch (err) {
        return this.#done('update', 'error', key, `cannot read Sidecar ${key}: ${errorMessage(err)}`);
      }
      if (!read.found) {
        try {
          await this.#api.createNamespacedCustomObject(
            { group: SIDECAR_GROUP, version: SIDECAR_VERSION, plural: SIDECAR_PLURAL, namespace, body: creationBody(mergeSidecar(null, write)) },
            this.#request,
          );
          return this.#done('create', 'ok', key);
        } catch (err) {
          const f = apiFailure(err);
          if (!isConflict(f)) return this.#done('create', 'error', key, `cannot create Sidecar ${key}: ${f.message}`);
          lastConflict = this.#conflict('create', key, attempt, f.message);
          continue;
        }
      }
      const { stored } = read;
      if (!stored.managed) return this.#done('update', 'refused', key, notOurs(key));
      const merged = mergeSidecar(stored.object, write);
      if (sameSidecar(stored.object, merged)) return this.#done('update', 'unchanged', key);
      try {
        await this.#api.replaceNamespacedCustomObject(
          { group: SIDECAR_GROUP, version: SIDECAR_VERSION, plural: SIDECAR_PLURAL, namespace, name, body: replacementBody(stored, merged) },
          this.#request,
        );
        return this.#done('update', 'ok', key);
      } catch (err) {
        const f = apiFailure(err);
        // 404: deleted since the read; the next attempt creates it.
        if (!isConflict(f) && !isNotFound(f)) return this.#done('update', 'error', key, `cannot update Sidecar ${key}: ${f.message}`);
        lastConflict = isConflict(f) ? this.#conflict('update', key, attempt, f.message) : `deleted while being updated (${f.message})`;
      }
    }
    return this.#done('update', 'exhausted', key, `gave up on Sidecar ${key} after ${this.#maxAttempts} attempts: ${lastConflict}`);
  }

  async #deleteOne(ref: SidecarRef): Promise<Outcome> {
    const key = sidecarKey(ref);
    let lastConflict = '';
    for (let attempt = 1; attempt <= this.#maxAttempts; attempt++) {
      if (attempt > 1) await this.#backoff(attempt - 1);
      let read: Read;
      try {
        read = await this.#read(ref.namespace, ref.name);
      } catch (err) {
        return this.#done('delete', 'error', key, `cannot read Sidecar ${key}: ${errorMessage(err)}`);
      }
      if (!read.found) return this.#done('delete', 'absent', key);
      const { stored } = read;
      if (!stored.managed) return this.#done('delete', 'refused', key, notOurs(key));
      try {
        // The preconditions make the delete fail if the object changed (or was replaced) since the
        // label was checked, so a Sidecar a person took over in between is never deleted.
        await this.#api.deleteNamespacedCustomObject(
          {
            group: SIDECAR_GROUP,
            version: SIDECAR_VERSION,
            plural: SIDECAR_PLURAL,
            namespace: ref.namespace,
            name: ref.name,
            body: { preconditions: { resourceVersion: stored.resourceVersion, ...(stored.uid ? { uid: stored.uid } : {}) } },
          },
          this.#request,
        );
        return this.#done('delete', 'ok', key);
      } catch (err) {
        const f = apiFailure(err);
        if (isNotFound(f)) return this.#done('delete', 'absent', key);
        if (!isConflict(f)) return this.#done('delete', 'error', key, `cannot delete Sidecar ${key}: ${f.message}`);
        lastConflict = this.#conflict('delete', key, attempt, f.message);
      }
    }
    return this.#done('delete', 'exhausted', key, `gave up deleting Sidecar ${key} after ${this.#maxAttempts} attempts: ${lastConflict}`);
  }

  /** The object as the API holds it now (never a cache). Throws when the API gives no usable answer. */
  async #read(namespace: string, name: string): Promise<Read> {
    let raw: unknown;
    try {
      raw = await this.#api.getNamespacedCustomObject({ group: SIDECAR_GROUP, version: SIDECAR_VERSION, plural: SIDECAR_PLURAL, namespace, name }, this.#request);
    } catch (err) {
      const f = apiFailure(err);
      if (isNotFound(f)) return { found: false };
      throw new Error(f.message);
    }
    return { found: true, stored: storedSidecar(raw, `Sidecar ${namespace}/${name}`) };
  }

  #conflict(op: WriteOp, key: string, attempt: number, message: string): string {
    this.#metrics.conflicts.inc();
    this.#log.debug({ sidecar: key, op, attempt, error: message }, 'Sidecar write lost a race; reading it again');
    return message;
  }

  /** Waits (50–200 ms) × n, so replicas that collided spread out. */
  #backoff(n: number): Promise<void> {
    const ms = (50 + 150 * this.#random()) * n;
    return new Promise((resolve) => this.#clock.setTimer(ms, resolve));
  }

  #done(op: WriteOp, result: WriteResult, key: string, error?: string): Outcome {
    this.#metrics.writes.inc({ op, result });
    if (error === undefined) return { key };
    this.#log.warn({ sidecar: key, op, result, error }, 'Sidecar write failed');
    return { key, error };
  }
}

function notOurs(key: string): string {
  return `conflict: Sidecar ${key} is not managed by Discovery (label ${MANAGED_BY_LABEL}=${MANAGED_BY_DISCOVERY} missing); it is left untouched`;
}

function pageOf(page: unknown): { items: unknown[]; next: string | undefined } {
  if (page === null || typeof page !== 'object' || !Array.isArray((page as { items?: unknown }).items)) throw new Error('the API returned a list without items');
  const p = page as { items: unknown[]; metadata?: { continue?: unknown } };
  const next = p.metadata?.continue;
  return { items: p.items, next: typeof next === 'string' && next !== '' ? next : undefined };
}

function collect(outcomes: readonly Outcome[]): ApplyResult {
  const applied: string[] = [];
  const failed: Array<{ key: string; error: string }> = [];
  for (const o of outcomes) {
    if (o.error === undefined) applied.push(o.key);
    else failed.push({ key: o.key, error: o.error });
  }
  return { applied, failed };
}
