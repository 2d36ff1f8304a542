// Maps a request path to the resource it addresses:
//   /api/v1/<plural>[/<name>[/<sub>]]                          cluster-scoped objects, or all namespaces
//   /api/v1/namespaces/<ns>/<plural>[/<name>[/<sub>]]           namespaced objects
//   /apis/<group>/<version>/...                                 the same under a named group

import { typeByPath, type ResourceType } from './resources.ts';

export interface ResourceTarget {
  readonly type: ResourceType;
  /** The namespace in the path; null for cluster-scoped types and all-namespace collections. */
  readonly namespace: string | null;
  readonly name: string | null;
  readonly subresource: string | null;
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The resource a path addresses, or null when it addresses none this server serves. */
export function routeResource(path: string): ResourceTarget | null {
  const segs = path.split('/').filter((s) => s !== '').map(decode);
  let group: string;
  let version: string;
  let rest: string[];
  if (segs[0] === 'api' && segs[1] === 'v1') {
    group = '';
    version = 'v1';
    rest = segs.slice(2);
  } else if (segs[0] === 'apis' && segs.length >= 3) {
    group = segs[1] as string;
    version = segs[2] as string;
    rest = segs.slice(3);
  } else return null;
  if (rest.length === 0) return null;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    const type = typeByPath(group, version, rest[2] as string);
    if (type?.namespaced && rest.length <= 5) {
      return { type, namespace: rest[1] as string, name: rest[3] ?? null, subresource: rest[4] ?? null };
    }
  }
  const type = typeByPath(group, version, rest[0] as string);
  if (!type || rest.length > 3) return null;
  // A namespaced type is reachable without a namespace only as a collection (list and watch).
  if (type.namespaced && rest.length > 1) return null;
  return { type, namespace: null, name: rest[1] ?? null, subresource: rest[2] ?? null };
}
