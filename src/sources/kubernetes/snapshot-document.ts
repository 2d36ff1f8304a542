// Kubernetes snapshot files: objects as `kubectl get -o yaml` (or -o json) prints them — single
// objects, several YAML documents, `kind: List`, or typed lists such as PodList. The kinds
// Discovery needs are converted (convert.ts) into one KubeSnapshot; other kinds are counted and
// ignored, so a whole `kubectl get all -A -o yaml` dump can be used as is.

import { LineCounter, parseAllDocuments } from 'yaml';
import { loadAll, CORE_SCHEMA } from 'js-yaml';
import type { EndpointSliceInfo, KubeServiceInfo, KubeSnapshot, PodInfo, SidecarInfo } from '../../world/kube-types.ts';
import type { Obj } from '../shape.ts';
import { ShapeError, describe, fail, isObject, snapshotError } from '../shape.ts';
import { SERVICE_NAME_LABEL, convertEndpointSlice, convertPod, convertService, convertSidecar, isSupportedKind, namespaceName, objectLabel } from './convert.ts';

export interface KubeSnapshotParse {
  readonly snapshot: KubeSnapshot;
  /** Objects of kinds Discovery does not use, by "apiVersion kind", for a debug log line. */
  readonly ignored: ReadonlyMap<string, number>;
}

/** Collects the converted objects of one file, refusing duplicates and counting what it skips. */
class Collector {
  readonly namespaces = new Set<string>();
  readonly services = new Map<string, KubeServiceInfo>();
  readonly slices = new Map<string, EndpointSliceInfo>();
  readonly pods = new Map<string, PodInfo>();
  readonly sidecars = new Map<string, SidecarInfo>();
  readonly ignored = new Map<string, number>();
  /** "Kind ns/name" → where it was first seen, to name both places of a duplicate. */
  readonly seen = new Map<string, string>();

  /** where: "document 3 (line 41)" or "document 2 (line 1) item 7", for error messages. */
  add(o: Obj, where: string): void {
    const apiVersion = o['apiVersion'];
    const kind = o['kind'];
    if (typeof kind !== 'string' || kind === '') fail('kind', typeof kind === 'string' ? 'must not be empty' : kind === undefined ? 'is required' : `must be a string, got ${describe(kind)}`);
    if (typeof apiVersion !== 'string' || apiVersion === '') fail('apiVersion', apiVersion === undefined ? `is required (kind ${kind})` : `must be a non-empty string, got ${describe(apiVersion)}`);
    if (!isSupportedKind(apiVersion, kind)) {
      this.#count(`${apiVersion} ${kind}`);
      return;
    }
    switch (kind) {
      case 'Namespace': {
        const ns = namespaceName(o);
        this.#unique('Namespace', ns, where);
        this.namespaces.add(ns);
        return;
      }
      case 'Service':
        this.#store(this.services, 'Service', convertService(o), where);
        return;
      case 'EndpointSlice': {
        const s = convertEndpointSlice(o);
        if (s) this.#store(this.slices, 'EndpointSlice', s, where);
        else this.#count(`${apiVersion} ${kind} (no ${SERVICE_NAME_LABEL} label)`);
        return;
      }
      case 'Pod': {
        const p = convertPod(o);
        if (p) this.#store(this.pods, 'Pod', p, where);
        else this.#count('v1 Pod (finished: Succeeded/Failed)');
        return;
      }
      case 'Sidecar':
        this.#store(this.sidecars, 'Sidecar', convertSidecar(o, apiVersion), where);
        return;
    }
  }

  #count(key: string): void {
    this.ignored.set(key, (this.ignored.get(key) ?? 0) + 1);
  }

  #unique(kind: string, key: string, where: string): void {
    const id = `${kind} ${key}`;
    const first = this.seen.get(id);
    if (first !== undefined) throw new ShapeError(`duplicate ${id}: also defined at ${first}`);
    this.seen.set(id, where);
  }

  #store<T extends { namespace: string; name: string }>(into: Map<string, T>, kind: string, obj: T, where: string): void {
    const key = `${obj.namespace}/${obj.name}`;
    this.#unique(kind, key, where);
    this.namespaces.add(obj.namespace);
    into.set(key, obj);
  }

  result(): KubeSnapshotParse {
    const sorted = <T>(m: Map<string, T>): T[] => [...m.keys()].sort().map((k) => m.get(k)!);
    const snapshot: KubeSnapshot = {
      namespaces: [...this.namespaces].sort(),
      services: sorted(this.services),
      endpointSlices: sorted(this.slices),
      pods: sorted(this.pods),
      sidecars: sorted(this.sidecars),
    };
    return { snapshot, ignored: this.ignored };
  }
}

/** One top-level value: an object, or a list whose items are objects (typed lists leave out apiVersion/kind). */
function addTopLevel(c: Collector, value: unknown, where: string): void {
  if (value === null || value === undefined) return;
  const run = (o: Obj, place: string) => {
    try {
      c.add(o, place);
    } catch (err) {
      if (err instanceof ShapeError) throw new ShapeError(`${place}, ${objectLabel(o)}: ${err.message}`);
      throw err;
    }
  };
  if (!isObject(value)) throw new ShapeError(`${where}: must be a Kubernetes object (a mapping with apiVersion and kind), got ${describe(value)}`);
  const kind = value['kind'];
  if (typeof kind === 'string' && kind.endsWith('List') && Array.isArray(value['items'])) {
    const typed = kind !== 'List';
    const itemKind = kind.slice(0, -'List'.length);
    value['items'].forEach((it, i) => {
      const place = `${where} item ${i}`;
      if (!isObject(it)) throw new ShapeError(`${place}: must be a Kubernetes object, got ${describe(it)}`);
      const withType = typed ? { apiVersion: value['apiVersion'], kind: itemKind, ...it } : it;
      run(withType, place);
    });
    return;
  }
  run(value, where);
}

/** `kubectl get -o json` output; undefined when the text is not JSON (YAML flow style also starts with "{"). */
function parseJson(text: string): KubeSnapshotParse | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const c = new Collector();
  if (Array.isArray(value)) value.forEach((v, i) => addTopLevel(c, v, `item ${i}`));
  else addTopLevel(c, value, 'document 1');
  return c.result();
}

/**
 * Large dumps: js-yaml's loader is ~10x faster than the `yaml` package's document model
 * (bench/scale.ts: 20,000 Pods, 12 s -> ~1.5 s). It is the fast path only: undefined on any
 * problem, so the file is parsed again by parseYamlPrecisely for a message with positions.
 */
function parseYamlFast(text: string): KubeSnapshotParse | undefined {
  try {
    const c = new Collector();
    loadAll(text, (value) => addTopLevel(c, value, 'document'), { schema: CORE_SCHEMA });
    return c.result();
  } catch {
    return undefined;
  }
}

/** The `yaml` package path: slower, but every error names its document and line. */
function parseYamlPrecisely(text: string): KubeSnapshotParse {
  const c = new Collector();
  const lines = new LineCounter();
  // An empty file is an empty stream: a valid, empty snapshot.
  parseAllDocuments(text, { lineCounter: lines }).forEach((doc, d) => {
    const where = () => `document ${d + 1} (line ${lines.linePos(doc.range[0]).line || 1})`;
    const problem = doc.errors[0];
    if (problem) throw new ShapeError(`${where()}: not valid YAML: ${problem.message.split('\n')[0]!.replace(/:$/, '')}`);
    let value: unknown;
    try {
      value = doc.toJS();
    } catch (err) {
      throw new ShapeError(`${where()}: not valid YAML: ${err instanceof Error ? err.message : String(err)}`);
    }
    addTopLevel(c, value, where());
  });
  return c.result();
}

/**
 * Parse `kubectl get -o yaml`/`-o json` output into the KubeSnapshot, and report which kinds
 * were ignored. Throws DiscoveryError DSC_ERR_SNAPSHOT naming the document, object and field.
 */
export function parseKubeSnapshot(text: string, origin: string): KubeSnapshotParse {
  try {
    const trimmed = text.trimStart();
    // JSON.parse is many times faster than a YAML parser on large dumps.
    const json = trimmed.startsWith('{') || trimmed.startsWith('[') ? parseJson(text) : undefined;
    return json ?? parseYamlFast(text) ?? parseYamlPrecisely(text);
  } catch (err) {
    if (err instanceof ShapeError) throw snapshotError(origin, err.message);
    throw err;
  }
}
