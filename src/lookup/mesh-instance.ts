// The mesh answer in Consul's shape: one synthetic instance whose node and service address are
// the target's ClusterIP and whose port is the Service port, with one passing check. Built once
// per target fact change, never per request.

import type { ConsulInstance } from '../world/consul-types.ts';
import type { MeshTarget } from '../world/world.ts';

export function meshNodeName(target: MeshTarget): string {
  return `mesh-${target.namespace}-${target.serviceName}`;
}

export function meshInstance(serviceName: string, target: MeshTarget, datacenter: string, index: number): ConsulInstance {
  const ip = target.clusterIP ?? '';
  const port = target.port ?? 0;
  const node = meshNodeName(target);
  const id = `${serviceName}-${target.namespace}-${target.serviceName}`;
  return {
    node: {
      ID: '',
      Node: node,
      Address: ip,
      Datacenter: datacenter,
      TaggedAddresses: { lan: ip, lan_ipv4: ip, wan: ip, wan_ipv4: ip },
      Meta: { 'discovery/kubernetes-service': `${target.namespace}/${target.serviceName}` },
      CreateIndex: index,
      ModifyIndex: index,
    },
    service: {
      ID: id,
      Service: serviceName,
      Tags: [],
      Address: ip,
      TaggedAddresses: { lan_ipv4: { Address: ip, Port: port }, wan_ipv4: { Address: ip, Port: port } },
      Meta: { 'discovery/route': 'mesh' },
      Port: port,
      Weights: { Passing: 1, Warning: 1 },
      EnableTagOverride: false,
      CreateIndex: index,
      ModifyIndex: index,
    },
    checks: [
      {
        Node: node,
        CheckID: `service:${id}`,
        Name: `Kubernetes Service ${target.namespace}/${target.serviceName}`,
        Status: 'passing',
        Notes: '',
        Output: `${target.meshedReadyEndpoints} meshed ready endpoint(s)`,
        ServiceID: id,
        ServiceName: serviceName,
        ServiceTags: [],
        Type: '',
        Interval: '',
        Timeout: '',
        CreateIndex: index,
        ModifyIndex: index,
      },
    ],
  };
}
