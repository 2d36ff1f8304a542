// What ListWatch caches for the live source: per object only the keys it compares (namespace,
// name, resourceVersion) and the slim value, never the full object with its managedFields.
// Watch events are translated into these entries before ListWatch sees them.

import type { KindName, KindSpec, KindValues } from './kinds.ts';
import { isObject } from '../shape.ts';

export interface Entry<V> {
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly resourceVersion?: string };
  /** null: nothing to keep (a finished Pod, a slice of no Service, an object that cannot be read). */
  readonly value: V | null;
}

/** "namespace/name", or the name of a cluster-scoped object (a Namespace). */
export function entryKey(e: Entry<unknown>): string {
  return e.metadata.namespace ? `${e.metadata.namespace}/${e.metadata.name}` : e.metadata.name;
}

function metadataOf(raw: unknown): Entry<never>['metadata'] {
  const meta = isObject(raw) && isObject(raw['metadata']) ? raw['metadata'] : {};
  const str = (key: string) => (typeof meta[key] === 'string' ? meta[key] : undefined);
  return { name: str('name') ?? '', namespace: str('namespace'), resourceVersion: str('resourceVersion') };
}

/**
 * The entry of one object. A deleted object needs only its keys. An object the converter rejects
 * is kept as an entry without a value (so a later good version is an update) and reported.
 */
export function toEntry<K extends KindName>(spec: KindSpec<K>, raw: unknown, deleted: boolean, rejected: (raw: unknown, err: unknown) => void): Entry<KindValues[K]> {
  const metadata = metadataOf(raw);
  if (deleted) return { metadata, value: null };
  try {
    if (!isObject(raw)) throw new Error('not an object');
    return { metadata, value: spec.convert(raw) };
  } catch (err) {
    rejected(raw, err);
    return { metadata, value: null };
  }
}

export interface TranslatedEvent {
  /** What ListWatch gets: an entry, a bookmark's resourceVersion, or an ERROR's Status as sent. */
  readonly object: unknown;
  readonly resourceVersion: string | undefined;
  /** An ERROR with code 410: the resourceVersion is too old, ListWatch re-lists when the stream ends. */
  readonly expired: boolean;
}

/** One watch event for ListWatch. Throws on an event type the API does not have. */
export function translateEvent<K extends KindName>(spec: KindSpec<K>, type: string, object: unknown, rejected: (raw: unknown, err: unknown) => void): TranslatedEvent {
  switch (type) {
    case 'ADDED':
    case 'MODIFIED':
    case 'DELETED': {
      const entry = toEntry(spec, object, type === 'DELETED', rejected);
      return { object: entry, resourceVersion: entry.metadata.resourceVersion, expired: false };
    }
    case 'BOOKMARK': {
      const { resourceVersion } = metadataOf(object);
      return { object: { metadata: { resourceVersion: resourceVersion ?? '' } }, resourceVersion, expired: false };
    }
    case 'ERROR':
      return { object, resourceVersion: undefined, expired: isObject(object) && object['code'] === 410 };
    default:
      throw new Error(`WATCH ${spec.path}: unknown event type ${type}`);
  }
}
