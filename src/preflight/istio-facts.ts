// What preflight reads from Istio's own objects, beyond what the world keeps: the mesh-wide
// outboundTrafficPolicy (the `mesh` key of the istio ConfigMap in the root namespace), each
// Sidecar's own outboundTrafficPolicy, and the addresses ServiceEntries put in the registry.

import type { KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { kubeGet, kubeMessage } from './kube-get.ts';

export type TrafficMode = 'ALLOW_ANY' | 'REGISTRY_ONLY';

export interface ServiceEntryFacts {
  /** namespace/name */
  readonly name: string;
  /** spec.addresses (IPs and CIDRs) and spec.endpoints[].address. */
  readonly addresses: readonly string[];
}

export interface IstioFacts {
  readonly meshMode: TrafficMode;
  /** Where meshMode came from, for the report. */
  readonly meshModeSource: string;
  /** By namespace/name, only the Sidecars that set a mode. */
  readonly sidecarModes: ReadonlyMap<string, TrafficMode>;
  readonly serviceEntries: readonly ServiceEntryFacts[];
  /** False when the ServiceEntries could not be listed (then none is known to cover anything). */
  readonly serviceEntriesRead: boolean;
  /** What could not be read (each makes the checks that need it a warning). */
  readonly gaps: readonly string[];
}

function modeOf(value: unknown): TrafficMode | null {
  const mode = (value as { outboundTrafficPolicy?: { mode?: unknown } } | null | undefined)?.outboundTrafficPolicy?.mode;
  return mode === 'REGISTRY_ONLY' || mode === 'ALLOW_ANY' ? mode : null;
}

interface Item {
  metadata?: { namespace?: string; name?: string };
  spec?: Record<string, unknown>;
}

function itemsOf(body: unknown): Item[] {
  const items = (body as { items?: unknown } | null)?.items;
  return Array.isArray(items) ? (items as Item[]) : [];
}

const keyOf = (i: Item) => `${i.metadata?.namespace ?? ''}/${i.metadata?.name ?? ''}`;

export async function readIstioFacts(kc: KubeConfig, rootNamespace: string): Promise<IstioFacts> {
  const gaps: string[] = [];
  let meshMode: TrafficMode = 'ALLOW_ANY';
  let meshModeSource = `Istio's default (no ConfigMap ${rootNamespace}/istio)`;
  const cm = await kubeGet(kc, `/api/v1/namespaces/${encodeURIComponent(rootNamespace)}/configmaps/istio`);
  if (cm.status === 200) {
    const text = (cm.body as { data?: { mesh?: unknown } } | null)?.data?.mesh;
    meshModeSource = `ConfigMap ${rootNamespace}/istio, key mesh`;
    if (typeof text === 'string') {
      try {
        meshMode = modeOf(parse(text)) ?? 'ALLOW_ANY';
      } catch (err) {
        gaps.push(`the mesh key of ConfigMap ${rootNamespace}/istio is not YAML (${(err as Error).message.split('\n')[0] ?? ''})`);
      }
    }
  } else if (cm.status !== 404) gaps.push(`ConfigMap ${rootNamespace}/istio: ${kubeMessage(cm)}`);

  const sidecarModes = new Map<string, TrafficMode>();
  const sidecars = await kubeGet(kc, '/apis/networking.istio.io/v1/sidecars');
  if (sidecars.status === 200) {
    for (const item of itemsOf(sidecars.body)) {
      const mode = modeOf(item.spec);
      if (mode) sidecarModes.set(keyOf(item), mode);
    }
  } else gaps.push(`Sidecars: ${kubeMessage(sidecars)}`);

  const serviceEntries: ServiceEntryFacts[] = [];
  let serviceEntriesRead = false;
  const entries = await kubeGet(kc, '/apis/networking.istio.io/v1/serviceentries');
  if (entries.status === 200) {
    serviceEntriesRead = true;
    for (const item of itemsOf(entries.body)) {
      const spec = item.spec ?? {};
      const addresses = Array.isArray(spec['addresses']) ? spec['addresses'].filter((a): a is string => typeof a === 'string') : [];
      const endpoints = Array.isArray(spec['endpoints']) ? spec['endpoints'].map((e) => (e as { address?: unknown }).address).filter((a): a is string => typeof a === 'string') : [];
      serviceEntries.push({ name: keyOf(item), addresses: [...addresses, ...endpoints] });
    }
  } else gaps.push(`ServiceEntries: ${kubeMessage(entries)}`);
  return { meshMode, meshModeSource, sidecarModes, serviceEntries, serviceEntriesRead, gaps };
}
