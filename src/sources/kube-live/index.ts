// The live Kubernetes source (see kube-live-source.ts).
export { KubeLiveSource, type KubeLiveOptions } from './kube-live-source.ts';
