// Kubernetes label selectors, as Istio and the Sidecar reconciler read them.

/** Does the selector pick these labels? A null selector selects nothing; an empty one selects everything. */
export function selects(selector: Readonly<Record<string, string>> | null, labels: Readonly<Record<string, string>>): boolean {
  if (selector === null) return false;
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}

export function sameLabels(a: Readonly<Record<string, string>> | null, b: Readonly<Record<string, string>> | null): boolean {
  if (a === null || b === null) return a === b;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
