// Which stored objects a list or watch request selects: namespace, name, label and field selectors.

import { fieldValueOf, type FieldSelector, type LabelSelector } from './selectors.ts';
import type { StoredObject } from './store.ts';

export interface ObjectFilter {
  /** Only this namespace; null for all. */
  readonly namespace: string | null;
  /** Only this object name (a request on an object path); null for all. */
  readonly name: string | null;
  readonly labels: LabelSelector | null;
  readonly fields: FieldSelector | null;
}

export function selects(filter: ObjectFilter, stored: StoredObject): boolean {
  if (filter.namespace !== null && stored.namespace !== filter.namespace) return false;
  if (filter.name !== null && stored.name !== filter.name) return false;
  if (filter.labels && !filter.labels.matches(stored.labels)) return false;
  if (filter.fields && !filter.fields.matches((f) => (f === 'metadata.namespace' ? stored.namespace : fieldValueOf(stored.object, f)))) return false;
  return true;
}
