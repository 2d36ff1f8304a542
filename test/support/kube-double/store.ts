// The object store: one resourceVersion counter for everything (as etcd's revision), objects kept
// with their JSON serialized once per write, and an event history watches replay from.
// Write rules that depend on the request (preconditions, status handling) live in the API layer.

import { randomUUID } from 'node:crypto';
import { EventHistory } from './history.ts';
import type { ResourceType } from './resources.ts';
import type { Labels } from './selectors.ts';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: Record<string, unknown>;
  [field: string]: unknown;
}

/** One stored version of an object. Never mutated and never handed out (callers get copies). */
export interface StoredObject {
  readonly type: ResourceType;
  /** `namespace/name`, or `name` for cluster-scoped types: the list order. */
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly rv: number;
  readonly uid: string;
  readonly labels: Labels;
  readonly object: KubeObject;
  /** The object as JSON, kind and apiVersion first. */
  readonly json: string;
  /** The object as a list item: built-in lists drop kind/apiVersion from items, custom ones keep them. */
  readonly itemJson: string;
}

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  readonly type: EventType;
  readonly rv: number;
  /** The new state; for DELETED the last state, carrying the deletion's resourceVersion. */
  readonly object: StoredObject;
  readonly previous: StoredObject | null;
}

const METADATA_ORDER = ['name', 'generateName', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'labels', 'annotations'];

function orderedMetadata(metadata: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of METADATA_ORDER) if (metadata[k] !== undefined) out[k] = metadata[k];
  for (const [k, v] of Object.entries(metadata)) if (!(k in out) && v !== undefined) out[k] = v;
  return out;
}

/** Serializes an object once, in the API server's field order (kind, apiVersion, metadata, rest). */
export function storedFrom(type: ResourceType, object: KubeObject): StoredObject {
  const metadata = orderedMetadata(object.metadata);
  const rest: Record<string, unknown> = { metadata };
  for (const [k, v] of Object.entries(object)) if (k !== 'kind' && k !== 'apiVersion' && k !== 'metadata' && v !== undefined) rest[k] = v;
  const inner = JSON.stringify(rest);
  const json = `{"kind":${JSON.stringify(type.kind)},"apiVersion":${JSON.stringify(type.apiVersion)},${inner.slice(1)}`;
  const namespace = typeof metadata.namespace === 'string' ? metadata.namespace : '';
  const name = metadata.name as string;
  const labels = (metadata.labels && typeof metadata.labels === 'object' ? metadata.labels : {}) as Labels;
  return {
    type, namespace, name, labels, json,
    key: type.namespaced ? `${namespace}/${name}` : name,
    rv: Number(metadata.resourceVersion),
    uid: typeof metadata.uid === 'string' ? metadata.uid : '',
    object: { kind: type.kind, apiVersion: type.apiVersion, ...rest } as KubeObject,
    itemJson: type.custom ? json : inner,
  };
}

/** A deep copy a caller may change freely. */
export function copyOf(stored: StoredObject): KubeObject {
  return JSON.parse(stored.json) as KubeObject;
}

/** The same object content at another resourceVersion (a deletion, or a watch leaving a selector). */
export function atResourceVersion(stored: StoredObject, rv: number): StoredObject {
  const object = copyOf(stored);
  object.metadata.resourceVersion = String(rv);
  return storedFrom(stored.type, object);
}

/** RFC 3339 at whole seconds, as metav1.Time serializes. */
export function nowTimestamp(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

interface Table {
  readonly objects: Map<string, StoredObject>;
  sortedKeys: string[] | null;
}

export class ObjectStore {
  private rv = 1;
  private readonly tables = new Map<ResourceType, Table>();
  private readonly listeners = new Map<ResourceType | null, Set<(event: StoreEvent) => void>>();
  readonly history: EventHistory<StoreEvent>;

  constructor(historyLimit: number) {
    this.history = new EventHistory<StoreEvent>(historyLimit, this.rv);
  }

  get resourceVersion(): number {
    return this.rv;
  }

  private table(type: ResourceType): Table {
    let t = this.tables.get(type);
    if (!t) {
      t = { objects: new Map(), sortedKeys: null };
      this.tables.set(type, t);
    }
    return t;
  }

  keyOf(type: ResourceType, namespace: string | null, name: string): string {
    return type.namespaced ? `${namespace ?? ''}/${name}` : name;
  }

  get(type: ResourceType, namespace: string | null, name: string): StoredObject | undefined {
    return this.table(type).objects.get(this.keyOf(type, namespace, name));
  }

  /** Current objects of a type in key order, optionally of one namespace. */
  list(type: ResourceType, namespace?: string | null): StoredObject[] {
    const t = this.table(type);
    t.sortedKeys ??= [...t.objects.keys()].sort();
    const out: StoredObject[] = [];
    const prefix = type.namespaced && namespace ? `${namespace}/` : null;
    for (const key of t.sortedKeys) {
      if (prefix !== null && !key.startsWith(prefix)) continue;
      out.push(t.objects.get(key) as StoredObject);
    }
    return out;
  }

  /**
   * Stores a new object. `object` is already validated; this sets uid, creationTimestamp,
   * resourceVersion and, for custom resources, generation 1. The caller checked it is absent.
   */
  insert(type: ResourceType, object: KubeObject): StoredObject {
    const rv = ++this.rv;
    const metadata = object.metadata;
    metadata.uid = randomUUID();
    metadata.creationTimestamp = nowTimestamp();
    metadata.resourceVersion = String(rv);
    if (type.custom) metadata.generation = 1;
    else delete metadata.generation;
    const stored = storedFrom(type, object);
    const t = this.table(type);
    t.objects.set(stored.key, stored);
    t.sortedKeys = null;
    this.emit({ type: 'ADDED', rv, object: stored, previous: null });
    return stored;
  }

  /** Replaces an existing object, keeping its identity (uid, creationTimestamp). */
  replace(existing: StoredObject, object: KubeObject): StoredObject {
    const type = existing.type;
    const rv = ++this.rv;
    const metadata = object.metadata;
    const old = existing.object.metadata;
    metadata.uid = old.uid;
    metadata.creationTimestamp = old.creationTimestamp;
    metadata.resourceVersion = String(rv);
    if (type.custom) {
      const generation = typeof old.generation === 'number' ? old.generation : 1;
      metadata.generation = specChanged(existing.object, object) ? generation + 1 : generation;
    } else delete metadata.generation;
    const stored = storedFrom(type, object);
    this.table(type).objects.set(stored.key, stored);
    this.emit({ type: 'MODIFIED', rv, object: stored, previous: existing });
    return stored;
  }

  /** Deletes an object; returns its last state at the deletion's resourceVersion. */
  remove(existing: StoredObject): StoredObject {
    const rv = ++this.rv;
    const gone = atResourceVersion(existing, rv);
    const t = this.table(existing.type);
    t.objects.delete(existing.key);
    t.sortedKeys = null;
    this.emit({ type: 'DELETED', rv, object: gone, previous: existing });
    return gone;
  }

  /** Calls `listener` after every write to objects of `type` (null: of every type). Returns the unsubscribe. */
  subscribe(type: ResourceType | null, listener: (event: StoreEvent) => void): () => void {
    let set = this.listeners.get(type);
    if (!set) {
      set = new Set();
      this.listeners.set(type, set);
    }
    set.add(listener);
    return () => set.delete(listener);
  }

  private emit(event: StoreEvent): void {
    this.history.push(event);
    for (const key of [event.object.type, null]) {
      const set = this.listeners.get(key);
      if (set) for (const listener of [...set]) listener(event);
    }
  }
}

/** Whether anything but metadata and status differs (what bumps a custom resource's generation). */
function specChanged(before: KubeObject, after: KubeObject): boolean {
  const strip = (o: KubeObject): string => {
    const rest: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) if (k !== 'metadata' && k !== 'status' && k !== 'kind' && k !== 'apiVersion') rest[k] = v;
    return canonicalJson(rest);
  };
  return strip(before) !== strip(after);
}

/** JSON with object keys sorted at every level, so equal content compares equal. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
