// API discovery documents (the legacy, unaggregated form): what kubectl and client-node's
// KubernetesObjectApi read to map a kind to its resource path.

import { groupVersions, VERBS, type ResourceType } from './resources.ts';

const AUTHORIZATION_GROUP = 'authorization.k8s.io';

export const SERVER_VERSION = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2024-12-11T00:00:00Z',
  goVersion: 'go1.23.3',
  compiler: 'gc',
  platform: 'linux/amd64',
} as const;

function resourceEntries(types: readonly ResourceType[]): object[] {
  const out: object[] = [];
  for (const t of types) {
    out.push({
      name: t.plural,
      singularName: t.singular,
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: VERBS,
      ...(t.shortNames.length > 0 ? { shortNames: t.shortNames } : {}),
      ...(t.categories.length > 0 ? { categories: t.categories } : {}),
    });
    if (t.statusSubresource) {
      out.push({ name: `${t.plural}/status`, singularName: '', namespaced: t.namespaced, kind: t.kind, verbs: ['get', 'update'] });
    }
  }
  return out;
}

/** The JSON body for a discovery path, or null when the path is not a discovery document. */
export function discoveryDocument(path: string, serverAddress: string): object | null {
  if (path === '/version') return SERVER_VERSION;
  const gvs = groupVersions();
  if (path === '/api') {
    return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
  }
  if (path === '/apis') {
    const groups = gvs.filter((gv) => gv.group !== '').map((gv) => groupEntry(gv.group, gv.version));
    groups.push(groupEntry(AUTHORIZATION_GROUP, 'v1'));
    return { kind: 'APIGroupList', apiVersion: 'v1', groups };
  }
  // Access reviews are not stored objects: only create is served (access.ts answers them).
  if (path === `/apis/${AUTHORIZATION_GROUP}/v1`) {
    const review = { name: 'selfsubjectaccessreviews', singularName: 'selfsubjectaccessreview', namespaced: false, kind: 'SelfSubjectAccessReview', verbs: ['create'] };
    return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${AUTHORIZATION_GROUP}/v1`, resources: [review] };
  }
  if (path === `/apis/${AUTHORIZATION_GROUP}`) return { kind: 'APIGroup', apiVersion: 'v1', ...groupEntry(AUTHORIZATION_GROUP, 'v1') };
  for (const gv of gvs) {
    const groupVersion = gv.group === '' ? gv.version : `${gv.group}/${gv.version}`;
    const base = gv.group === '' ? '/api' : `/apis/${gv.group}`;
    if (path === `${base}/${gv.version}`) {
      return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources: resourceEntries(gv.types) };
    }
    if (gv.group !== '' && path === base) return { kind: 'APIGroup', apiVersion: 'v1', ...groupEntry(gv.group, gv.version) };
  }
  return null;
}

function groupEntry(group: string, version: string): object {
  const gv = { groupVersion: `${group}/${version}`, version };
  return { name: group, versions: [gv], preferredVersion: gv };
}
