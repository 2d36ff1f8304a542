// Just enough OpenAPI for kubectl to create objects without --validate=false. The double has no
// schemas: it declares that it validates fields on the server (kubectl then sends
// fieldValidation=Strict instead of validating itself), and gives older kubectl releases, which
// validate on the client from OpenAPI v2, an empty v2 document (no schema: nothing to check).

import { createHash } from 'node:crypto';
import { groupVersions, type ResourceType } from './resources.ts';

export interface OpenApiResponse {
  readonly contentType: string;
  readonly body: string;
}

// What the API server answers to an Accept of ...spec.v2@v1.0+protobuf ('@' is not valid in a Content-Type).
const V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';

function gvPath(group: string, version: string): string {
  return group === '' ? `api/${version}` : `apis/${group}/${version}`;
}

function objectPath(t: ResourceType): string {
  const base = `/${gvPath(t.group, t.version)}`;
  return t.namespaced ? `${base}/namespaces/{namespace}/${t.plural}/{name}` : `${base}/${t.plural}/{name}`;
}

/**
 * One group/version's document. kubectl learns whether the server takes `fieldValidation` from
 * the parameters of each kind's PATCH operation (it only reads the document: PATCH itself is
 * not served).
 */
function groupVersionDocument(types: readonly ResourceType[]): object {
  const paths: Record<string, object> = {};
  for (const t of types) {
    const operation = (verb: string): object => ({
      operationId: `${verb}${t.kind}`,
      parameters: [{ name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } }],
      responses: { '200': { description: 'OK' } },
      'x-kubernetes-action': verb,
      'x-kubernetes-group-version-kind': { group: t.group, version: t.version, kind: t.kind },
    });
    paths[objectPath(t)] = { put: operation('replace'), patch: operation('patch') };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.0' }, paths };
}

function documents(): Map<string, string> {
  const docs = new Map<string, string>();
  for (const gv of groupVersions()) docs.set(gvPath(gv.group, gv.version), JSON.stringify(groupVersionDocument(gv.types)));
  return docs;
}

const DOCS = documents();

/** The OpenAPI response for a path, or null when the path is not an OpenAPI document. */
export function openApiDocument(path: string, accept: string): OpenApiResponse | null {
  if (path === '/openapi/v2') {
    // An empty protobuf message decodes as an empty openapi_v2.Document.
    if (accept.includes('protobuf')) return { contentType: V2_PROTOBUF, body: '' };
    return { contentType: 'application/json', body: JSON.stringify({ swagger: '2.0', info: { title: 'Kubernetes', version: 'v1.32.0' }, paths: {} }) };
  }
  if (path === '/openapi/v3') {
    const paths: Record<string, object> = {};
    for (const [gv, body] of DOCS) {
      const hash = createHash('sha512').update(body).digest('hex').slice(0, 64).toUpperCase();
      paths[gv] = { serverRelativeURL: `/openapi/v3/${gv}?hash=${hash}` };
    }
    return { contentType: 'application/json', body: JSON.stringify({ paths }) };
  }
  if (path.startsWith('/openapi/v3/')) {
    const body = DOCS.get(path.slice('/openapi/v3/'.length));
    return body === undefined ? null : { contentType: 'application/json', body };
  }
  return null;
}
