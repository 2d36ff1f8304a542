// Renders the Kustomize trees under deploy/ with the real `kubectl kustomize` and gives the objects
// back as plain data, with small lookups the deploy tests share.

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '../support/process.ts';

const run = promisify(execFile);

export const DEPLOY = join(ROOT, 'deploy');

/** What the tests read of any rendered object; the rest stays `unknown` until narrowed. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string>; readonly annotations?: Record<string, string> };
  readonly [field: string]: unknown;
}

function isKubeObject(v: unknown): v is KubeObject {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  const meta = o['metadata'] as Record<string, unknown> | undefined;
  return typeof o['apiVersion'] === 'string' && typeof o['kind'] === 'string' && typeof meta?.['name'] === 'string';
}

/** `kubectl kustomize deploy/<dir>`: every object of the rendered stream. */
export async function render(dir: string): Promise<KubeObject[]> {
  const { stdout } = await run('kubectl', ['kustomize', join(DEPLOY, dir)], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  const objects: KubeObject[] = [];
  for (const doc of parseAllDocuments(stdout)) {
    if (doc.errors.length > 0) throw new Error(`kubectl kustomize deploy/${dir}: unparsable YAML: ${doc.errors[0]!.message}`);
    const value: unknown = doc.toJS();
    if (value === null) continue;
    if (!isKubeObject(value)) throw new Error(`kubectl kustomize deploy/${dir}: a document is not a Kubernetes object: ${JSON.stringify(value).slice(0, 200)}`);
    objects.push(value);
  }
  return objects;
}

/** Generated ConfigMaps and Secrets carry a content hash after their name. */
const HASH_SUFFIX = /^-[a-z0-9]{10}$/;

/** The one object of this kind (named `name`, or `name` plus a generator's hash suffix, when given). */
export function one(objects: readonly KubeObject[], kind: string, name?: string): KubeObject {
  const named = (n: string) => name === undefined || n === name || (n.startsWith(name) && HASH_SUFFIX.test(n.slice(name.length)));
  const found = objects.filter((o) => o.kind === kind && named(o.metadata.name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` named ${name}` : ''}, found ${found.length}: ${found.map((o) => o.metadata.name).join(', ')}`);
  return found[0]!;
}

export function ofKind(objects: readonly KubeObject[], kind: string): KubeObject[] {
  return objects.filter((o) => o.kind === kind);
}

/** The overlays an operator applies, and the standalone DNS wiring. */
export const OVERLAYS = ['overlays/live', 'overlays/demo'] as const;
export const ALL_TREES = ['base', ...OVERLAYS, 'dns/unbound'] as const;

// Shapes of the Pod template fields the tests look at.
export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } };
}
export interface ContainerPort {
  readonly name?: string;
  readonly containerPort: number;
  readonly protocol?: string;
}
export interface Probe {
  readonly httpGet?: { path: string; port: number | string };
  readonly tcpSocket?: { port: number | string };
}
export interface Container {
  readonly name: string;
  readonly image: string;
  readonly args?: string[];
  readonly ports?: ContainerPort[];
  readonly env?: EnvVar[];
  readonly readinessProbe?: Probe;
  readonly livenessProbe?: Probe;
  readonly resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  readonly securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; runAsNonRoot?: boolean; capabilities?: { drop?: string[] } };
  readonly volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
}
export interface Volume {
  readonly name: string;
  readonly emptyDir?: object;
  readonly configMap?: { name: string };
  readonly secret?: { secretName: string };
}
export interface PodSpec {
  readonly serviceAccountName?: string;
  readonly automountServiceAccountToken?: boolean;
  readonly hostNetwork?: boolean;
  readonly securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  readonly topologySpreadConstraints?: Array<{ topologyKey: string; whenUnsatisfiable: string; maxSkew: number; labelSelector?: { matchLabels?: Record<string, string> } }>;
  readonly containers: Container[];
  readonly volumes?: Volume[];
}
export interface PodTemplate {
  readonly metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
  readonly spec: PodSpec;
}

/** The Pod template of a Deployment or DaemonSet. */
export function podTemplate(workload: KubeObject): PodTemplate {
  const spec = workload['spec'] as { template?: PodTemplate } | undefined;
  if (!spec?.template) throw new Error(`${workload.kind} ${workload.metadata.name} has no Pod template`);
  return spec.template;
}

/** The data of a ConfigMap (file name → content). */
export function configMapData(cm: KubeObject): Record<string, string> {
  return (cm['data'] as Record<string, string> | undefined) ?? {};
}
