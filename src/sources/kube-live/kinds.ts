// The five kinds the live source watches: where each lives in the API, and how one object becomes
// its slim world value (convert.ts, shared with the snapshot-file reader). Nothing but the slim
// value is kept.

import type { EndpointSliceInfo, KubeServiceInfo, PodInfo, SidecarInfo } from '../../world/kube-types.ts';
import { convertEndpointSlice, convertPod, convertService, convertSidecar, namespaceName } from '../kubernetes/convert.ts';
import { isObject } from '../shape.ts';

/** What each kind keeps per object. */
export interface KindValues {
  Namespace: string;
  Service: KubeServiceInfo;
  EndpointSlice: EndpointSliceInfo;
  Pod: PodInfo;
  Sidecar: SidecarInfo;
}

export type KindName = keyof KindValues;

/** In the order status and logs list them. */
export const KIND_NAMES: readonly KindName[] = ['Namespace', 'Service', 'EndpointSlice', 'Pod', 'Sidecar'];

export interface KindSpec<K extends KindName> {
  readonly kind: K;
  /** The cluster-wide collection path, without a query. */
  readonly path: string;
  /** The slim value of one object; null for an object the world does not use (a finished Pod). Throws ShapeError. */
  convert(obj: object): KindValues[K] | null;
}

const SIDECAR_API = 'networking.istio.io/v1';

export const KIND_SPECS: { readonly [K in KindName]: KindSpec<K> } = {
  Namespace: { kind: 'Namespace', path: '/api/v1/namespaces', convert: (obj) => namespaceName(obj) },
  Service: { kind: 'Service', path: '/api/v1/services', convert: (obj) => convertService(obj) },
  EndpointSlice: { kind: 'EndpointSlice', path: '/apis/discovery.k8s.io/v1/endpointslices', convert: (obj) => convertEndpointSlice(obj) },
  Pod: { kind: 'Pod', path: '/api/v1/pods', convert: (obj) => convertPod(obj) },
  Sidecar: {
    kind: 'Sidecar',
    path: `/apis/${SIDECAR_API}/sidecars`,
    // Custom resources carry the apiVersion they were served in on every item.
    convert: (obj) => convertSidecar(obj, isObject(obj) && typeof obj['apiVersion'] === 'string' ? obj['apiVersion'] : SIDECAR_API),
  },
};
