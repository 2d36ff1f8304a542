// Istio's Sidecar egress host grammar ("namespace/dnsName"), kept in one module.
// Namespace part: a name, "*" (any), "." (the Sidecar's own namespace) or "~" (none).
// DNS part: an FQDN, "*" (all), or "*.suffix" (wildcard prefix). See istio networking/v1 Sidecar docs.

export interface EgressHost {
  readonly namespace: string;
  readonly dnsName: string;
}

export function parseEgressHost(text: string): EgressHost | null {
  const slash = text.indexOf('/');
  if (slash <= 0 || slash === text.length - 1) return null;
  const namespace = text.slice(0, slash);
  const dnsName = text.slice(slash + 1).toLowerCase();
  if (dnsName.includes('/')) return null;
  return { namespace, dnsName };
}

export function formatEgressHost(namespace: string, fqdn: string): string {
  return `${namespace}/${fqdn}`;
}

export function serviceFqdn(namespace: string, name: string, clusterDomain = 'cluster.local'): string {
  return `${name}.${namespace}.svc.${clusterDomain}`;
}

function dnsMatches(pattern: string, fqdn: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return fqdn.endsWith(pattern.slice(1));
  if (pattern.startsWith('*')) return fqdn.endsWith(pattern.slice(1));
  return pattern === fqdn;
}

/** Does a Sidecar in `sidecarNamespace` with these egress hosts import the service `fqdn` of `serviceNamespace`? */
export function egressImports(
  hosts: readonly string[],
  sidecarNamespace: string,
  serviceNamespace: string,
  fqdn: string,
): boolean {
  const name = fqdn.toLowerCase();
  for (const raw of hosts) {
    const h = parseEgressHost(raw);
    if (!h) continue;
    if (h.namespace === '~') continue;
    const nsOk = h.namespace === '*' || (h.namespace === '.' ? sidecarNamespace === serviceNamespace : h.namespace === serviceNamespace);
    if (nsOk && dnsMatches(h.dnsName, name)) return true;
  }
  return false;
}
