// A Kubernetes API server test double on node:http: Namespaces, Pods, Services, EndpointSlices,
// ConfigMaps, Istio Sidecars and ServiceEntries, and Leases with the real API's resourceVersion,
// watch, conflict and error semantics, RBAC denials a test sets (with SelfSubjectAccessReview
// answering from them), plus fault injection and request statistics for tests. It listens on
// 127.0.0.1 only.

import type { KubeConfig } from '@kubernetes/client-node';
import { AccessRules, type DenyRule } from './access.ts';
import type { ServerResponse } from 'node:http';
import { HttpFront } from './front.ts';
import { kubeConfigFor, writeKubeconfigFile } from './kubeconfig.ts';
import { Lister } from './list.ts';
import { FaultState, type RequestMatch } from './faults.ts';
import { handleRequest, type PipelineDeps } from './pipeline.ts';
import { RESOURCE_TYPES, typeByKind, type ResourceType } from './resources.ts';
import { RequestLog, type RequestLogEntry } from './stats.ts';
import { alreadyExists, KubeStatusError } from './status.ts';
import { copyOf, ObjectStore, type KubeObject } from './store.ts';
import { decodeBody, validateObject } from './validate.ts';
import { WatchStream, type WatchRequest } from './watch.ts';

export interface KubeDoubleOptions {
  /** Bearer token required on every request (401 otherwise). Default 'test-token'. */
  readonly token?: string;
  /** Events kept for watches from an older resourceVersion; older → 410 Expired. Default 1000. */
  readonly historyLimit?: number;
  /** A BOOKMARK on every watch that asked for bookmarks, this often. Default 1000 ms. */
  readonly bookmarkIntervalMs?: number;
}

export interface KubeDoubleFaults {
  /** Listener closed, every socket destroyed: connection refused until up(). */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  /** Destroys every open watch socket (an abrupt end, no terminating chunk). */
  dropWatches(): void;
  /** Ends every open watch cleanly, as timeoutSeconds would. */
  endWatches(): void;
  /**
   * on: every open watch, and every watch opened while on, gets nothing more (no events, no
   * bookmarks, no timeout end) until dropped, ended or closed: a silent half-open connection.
   * off: watches opened from now on work; the ones already stalled stay silent.
   */
  stallWatches(on: boolean): void;
  /** Compacts the history: every resourceVersion older than the current one is too old (410). */
  expire(): void;
  /**
   * The next `count` matching requests ('always': all of them) answer with a Status error
   * (default 500 InternalError); a watch gets it as the HTTP response. Rules add up; fail(0)
   * removes them all. `match.watch` narrows to watch (true) or non-watch (false) requests.
   */
  fail(count: number | 'always', status?: number, match?: RequestMatch): void;
  /** The next `count` matching PUTs answer 409 Conflict as if the object had been modified; 0 removes the rules. */
  conflicts(count: number, match?: { pathPrefix?: string }): void;
  /** RBAC denies this verb on this resource from now on: requests are 403 Forbidden and SelfSubjectAccessReview says not allowed. */
  deny(rule: DenyRule): void;
  /** Removes every deny rule. */
  allowAll(): void;
}

export interface KubeDoubleStats {
  requests(match?: RequestMatch): number;
  log(): ReadonlyArray<{ method: string; path: string; query: Record<string, string>; at: number; status: number }>;
  openWatches(): number;
  reset(): void;
}

export type { RequestMatch, RequestLogEntry, DenyRule };

export class KubeDouble {
  private readonly store: ObjectStore;
  private readonly lister: Lister;
  private readonly faultState = new FaultState();
  private readonly access = new AccessRules();
  private readonly requestLog = new RequestLog();
  private readonly watches = new Set<WatchStream>();
  private readonly front: HttpFront;
  private readonly bookmarkTimer: NodeJS.Timeout;
  private closed = false;
  readonly faults: KubeDoubleFaults;
  readonly stats: KubeDoubleStats;

  static async start(opts: KubeDoubleOptions = {}): Promise<KubeDouble> {
    const double = new KubeDouble(opts);
    try {
      await double.front.listen();
    } catch (err) {
      clearInterval(double.bookmarkTimer);
      throw err;
    }
    return double;
  }

  private readonly token: string;

  private constructor(opts: KubeDoubleOptions) {
    this.token = opts.token ?? 'test-token';
    this.store = new ObjectStore(opts.historyLimit ?? 1000);
    this.lister = new Lister(this.store);
    const deps: PipelineDeps = {
      store: this.store,
      lister: this.lister,
      faults: this.faultState,
      token: this.token,
      log: this.requestLog,
      access: this.access,
      serverAddress: () => `127.0.0.1:${this.front.port}`,
      openWatch: (res, request) => this.openWatch(res, request),
    };
    this.front = new HttpFront((req, res) => handleRequest(deps, req, res));
    const interval = opts.bookmarkIntervalMs ?? 1000;
    if (!(interval > 0)) throw new RangeError(`bookmarkIntervalMs must be positive, got ${interval}`);
    this.bookmarkTimer = setInterval(() => {
      for (const w of this.watches) w.bookmark();
    }, interval);
    this.faults = {
      down: () => this.front.shutdown(),
      up: async () => {
        if (this.closed) throw new Error('kube-double: up() after close()');
        await this.front.listen();
      },
      dropWatches: () => [...this.watches].forEach((w) => w.drop()),
      endWatches: () => [...this.watches].forEach((w) => w.end()),
      stallWatches: (on) => {
        this.faultState.stalled = on;
        if (on) this.watches.forEach((w) => w.stall());
      },
      expire: () => {
        this.store.history.compact(this.store.resourceVersion);
        this.lister.forgetSnapshots();
      },
      fail: (count, status, match) => this.faultState.fail(count, status, match),
      conflicts: (count, match) => this.faultState.conflicts(count, match),
      deny: (rule) => this.access.deny(rule),
      allowAll: () => this.access.allowAll(),
    };
    this.stats = {
      requests: (match) => this.requestLog.count(match),
      log: () => this.requestLog.snapshot().map((e) => ({ ...e, query: { ...e.query } })),
      openWatches: () => this.watches.size,
      reset: () => this.requestLog.reset(),
    };
  }

  get port(): number {
    return this.front.port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.front.port}`;
  }

  /** The TLS listener (self-signed certificate, same API and state), which kubeconfig files point at. */
  get tlsPort(): number {
    return this.front.tlsPort;
  }

  get tlsUrl(): string {
    return `https://127.0.0.1:${this.front.tlsPort}`;
  }

  /** A client-node KubeConfig for this server (token user, skipTLSVerify so http: is allowed). */
  kubeConfig(): KubeConfig {
    return kubeConfigFor(this.url, this.token);
  }

  /**
   * Writes a kubeconfig file (for kubectl --kubeconfig and for loaders of kubeconfig files). It
   * points at tlsUrl with insecure-skip-tls-verify: client-go sends the token only over TLS.
   */
  writeKubeconfig(path: string): Promise<void> {
    return writeKubeconfigFile(path, this.tlsUrl, this.token);
  }

  /** The store's current resourceVersion (decimal, as etcd's revision). */
  get resourceVersion(): string {
    return String(this.store.resourceVersion);
  }

  private openWatch(res: ServerResponse, request: WatchRequest): void {
    const stream = new WatchStream(res, request, this.store, (s) => this.watches.delete(s));
    this.watches.add(stream);
    stream.start(this.faultState.stalled);
  }

  private typeOf(apiVersion: unknown, kind: unknown, what: string): ResourceType {
    const type = typeof apiVersion === 'string' && typeof kind === 'string' ? typeByKind(apiVersion, kind) : undefined;
    if (!type) {
      const served = RESOURCE_TYPES.map((t) => `${t.apiVersion} ${t.kind}`).join(', ');
      throw new Error(`kube-double ${what}: no resource type ${String(apiVersion)} ${String(kind)} (served: ${served})`);
    }
    return type;
  }

  /** Checks a direct write's object as the API would (identity, Lease times, names). */
  private decodeDirect(obj: object, what: string): { type: ResourceType; object: KubeObject } {
    const raw = obj as Partial<KubeObject>;
    const type = this.typeOf(raw.apiVersion, raw.kind, what);
    const namespace = typeof raw.metadata?.namespace === 'string' && raw.metadata.namespace !== '' ? raw.metadata.namespace : null;
    if (type.namespaced && namespace === null) throw new Error(`kube-double ${what}: a ${type.kind} needs metadata.namespace`);
    try {
      const object = decodeBody(type, obj, namespace, null);
      validateObject(type, object);
      return { type, object };
    } catch (err) {
      if (err instanceof KubeStatusError) throw new Error(`kube-double ${what}: ${err.message}`, { cause: err });
      throw err;
    }
  }

  /** Stores a new object as another client would; throws if it exists. Returns the stored object. */
  create(obj: object): object {
    const { type, object } = this.decodeDirect(obj, 'create');
    const name = object.metadata.name as string;
    if (this.store.get(type, (object.metadata.namespace as string | undefined) ?? null, name)) {
      throw new Error(`kube-double create: ${alreadyExists(type, name).message}`);
    }
    return copyOf(this.store.insert(type, object));
  }

  /** Creates or replaces an object (no resourceVersion check, status kept as given). */
  apply(obj: object): object {
    const { type, object } = this.decodeDirect(obj, 'apply');
    const existing = this.store.get(type, (object.metadata.namespace as string | undefined) ?? null, object.metadata.name as string);
    return copyOf(existing ? this.store.replace(existing, object) : this.store.insert(type, object));
  }

  /** Deletes an object as another client would; throws if it does not exist. */
  remove(apiVersion: string, kind: string, namespace: string | null, name: string): void {
    const type = this.typeOf(apiVersion, kind, 'remove');
    const existing = this.store.get(type, namespace, name);
    if (!existing) throw new Error(`kube-double remove: ${apiVersion} ${kind} ${namespace === null ? '' : `${namespace}/`}${name} does not exist`);
    this.store.remove(existing);
  }

  /** A copy of the stored object, or null. */
  get(apiVersion: string, kind: string, namespace: string | null, name: string): object | null {
    const stored = this.store.get(this.typeOf(apiVersion, kind, 'get'), namespace, name);
    return stored ? copyOf(stored) : null;
  }

  /** Copies of the stored objects of a kind, in the API's list order, optionally of one namespace. */
  list(apiVersion: string, kind: string, namespace?: string): object[] {
    return this.store.list(this.typeOf(apiVersion, kind, 'list'), namespace ?? null).map(copyOf);
  }

  /** Ends every watch, stops listening and destroys every connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.bookmarkTimer);
    for (const w of [...this.watches]) w.drop();
    await this.front.shutdown();
  }
}
