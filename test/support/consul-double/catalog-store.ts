// The catalog half of Consul's state store (agent/consul/state/catalog.go): nodes, services and
// checks, and the index entries each write bumps. A write that changes nothing bumps nothing
// (Consul compares before inserting), although it still took a raft index.
//
// Which entries a change bumps, as in catalog.go and catalog_ce.go:
// - node inserted or changed: "nodes", "node.<n>" and "service.<s>" of every service on the node;
// - service instance inserted or changed: "services", "service.<s>", "nodes", "node.<n>";
// - check inserted or changed: "checks", plus "service.<s>" for a service check, or every
//   "service.<s>" on the node for a node check;
// - check deleted: as a change, plus "services" for a node check;
// - instance deleted: its checks, "checks", "services", "nodes", "node.<n>", then "service.<s>"
//   when instances remain, else the entry is removed and "service_last_extinction" bumped;
// - node deleted: every instance and check on it, "nodes", "node.<n>" removed, "node_last_extinction".

import {
  type IndexTable, NODE_EXTINCTION, SERVICE_EXTINCTION, TABLE_CHECKS, TABLE_NODES, TABLE_SERVICES, nodeEntry, serviceEntry, type Write,
} from './index-table.ts';
import type { CheckInput, RegisterRequest, ServiceInput } from './register-body.ts';
import { ConsulHttpError, type CheckRecord, type CheckStatus, type NodeRecord, type ServiceRecord } from './types.ts';

const sameList = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
const instanceKey = (node: string, id: string): string => `${node.toLowerCase()}\u0000${id}`;

export class CatalogStore {
  /** By lower-cased node name. */
  readonly nodes = new Map<string, NodeRecord>();
  /** By lower-cased service name, then instanceKey. */
  readonly byService = new Map<string, Map<string, ServiceRecord>>();
  /** Rises on every change of the service set or tags (cache key of /v1/catalog/services). */
  servicesVersion = 0;

  readonly indexes: IndexTable;

  constructor(indexes: IndexTable) {
    this.indexes = indexes;
  }

  node(name: string): NodeRecord | undefined {
    return this.nodes.get(name.toLowerCase());
  }

  instances(service: string): ReadonlyMap<string, ServiceRecord> | undefined {
    return this.byService.get(service.toLowerCase());
  }

  // ---- writes -------------------------------------------------------------------------------

  /** Rejects a registration before anything is written (Consul's transaction aborts as a whole). */
  validate(req: RegisterRequest): void {
    const node = this.node(req.node);
    if (!node && req.address === '') throw new ConsulHttpError(500, 'rpc error making call: Must provide address if SkipNodeUpdate is not set');
    for (const c of req.checks) {
      if (c.serviceId === '' || c.serviceId === req.service?.id || node?.services.has(c.serviceId)) continue;
      throw new ConsulHttpError(500, 'rpc error making call: failed inserting check: Missing service registration');
    }
  }

  ensureRegistration(req: RegisterRequest, w: Write): void {
    this.validate(req);
    let node = this.node(req.node);
    if (!node) {
      node = {
        id: req.id, name: req.node, address: req.address, taggedAddresses: req.taggedAddresses ? { ...req.taggedAddresses } : null,
        meta: req.nodeMeta ? { ...req.nodeMeta } : null, createIndex: w.idx, modifyIndex: w.idx, services: new Map(), checks: new Map(),
      };
      this.nodes.set(req.node.toLowerCase(), node);
      this.nodeChanged(node, w);
    } else if (!req.skipNodeUpdate && this.changesNode(node, req)) {
      node.id = req.id;
      node.address = req.address;
      node.taggedAddresses = req.taggedAddresses ? { ...req.taggedAddresses } : null;
      node.meta = req.nodeMeta ? { ...req.nodeMeta } : null;
      node.modifyIndex = w.idx;
      this.nodeChanged(node, w);
    }
    if (req.service) this.ensureService(node, req.service, w);
    for (const c of req.checks) this.ensureCheck(node, c, w);
  }

  private changesNode(n: NodeRecord, req: RegisterRequest): boolean {
    return n.id !== req.id || n.address !== req.address || !sameJson(n.taggedAddresses, req.taggedAddresses) || !sameJson(n.meta, req.nodeMeta);
  }

  private nodeChanged(node: NodeRecord, w: Write): void {
    this.indexes.bump(TABLE_NODES, w);
    this.indexes.bump(nodeEntry(node.name), w);
    this.bumpServicesOfNode(node, w);
  }

  private bumpServicesOfNode(node: NodeRecord, w: Write): void {
    for (const s of node.services.values()) this.indexes.bump(serviceEntry(s.name), w);
  }

  private ensureService(node: NodeRecord, input: ServiceInput, w: Write): void {
    const existing = node.services.get(input.id);
    if (existing && existing.name === input.name && sameList(existing.tags, input.tags) && existing.address === input.address
      && existing.port === input.port && existing.enableTagOverride === input.enableTagOverride && sameJson(existing.meta, input.meta)
      && sameJson(existing.taggedAddresses, input.taggedAddresses) && sameJson(existing.weights, input.weights)) return;
    if (existing && existing.name.toLowerCase() !== input.name.toLowerCase()) this.removeInstance(node, existing, w);
    const rec: ServiceRecord = {
      node: node.name, id: input.id, name: input.name, tags: [...input.tags], address: input.address, taggedAddresses: input.taggedAddresses,
      meta: input.meta, port: input.port, weights: input.weights, enableTagOverride: input.enableTagOverride,
      createIndex: existing?.createIndex ?? w.idx, modifyIndex: w.idx,
    };
    node.services.set(rec.id, rec);
    const lower = rec.name.toLowerCase();
    let group = this.byService.get(lower);
    if (!group) this.byService.set(lower, (group = new Map<string, ServiceRecord>()));
    group.set(instanceKey(node.name, rec.id), rec);
    this.servicesVersion++;
    this.indexes.bump(TABLE_SERVICES, w);
    this.indexes.bump(serviceEntry(rec.name), w);
    this.indexes.bump(TABLE_NODES, w);
    this.indexes.bump(nodeEntry(node.name), w);
  }

  private ensureCheck(node: NodeRecord, input: CheckInput, w: Write): void {
    let serviceName = '';
    let serviceTags: readonly string[] = [];
    if (input.serviceId !== '') {
      const svc = node.services.get(input.serviceId);
      if (!svc) throw new ConsulHttpError(500, `rpc error making call: failed inserting check: Missing service registration`);
      serviceName = svc.name;
      serviceTags = svc.tags;
    }
    const existing = node.checks.get(input.checkId);
    const next: CheckRecord = {
      node: node.name, checkId: input.checkId, name: input.name, status: input.status, notes: input.notes, output: input.output,
      serviceId: input.serviceId, serviceName, serviceTags, type: input.type, interval: input.interval, timeout: input.timeout,
      createIndex: existing?.createIndex ?? w.idx, modifyIndex: w.idx,
    };
    if (existing && sameCheck(existing, next)) return;
    if (existing && existing.serviceId !== next.serviceId) this.checkTouches(node, existing, w);
    node.checks.set(next.checkId, next);
    this.checkTouches(node, next, w);
    this.indexes.bump(TABLE_CHECKS, w);
  }

  private checkTouches(node: NodeRecord, c: CheckRecord, w: Write): void {
    if (c.serviceId !== '') this.indexes.bump(serviceEntry(c.serviceName), w);
    else this.bumpServicesOfNode(node, w);
  }

  setCheckStatus(nodeName: string, checkId: string, status: CheckStatus, output: string | undefined, w: Write): void {
    const node = this.node(nodeName);
    const c = node?.checks.get(checkId);
    if (!node || !c) throw new ConsulHttpError(404, `Unknown check ID "${checkId}". Ensure that the check ID is passed, not the check name.`);
    this.ensureCheck(node, { ...c, status, output: output ?? c.output }, w);
  }

  deleteCheck(nodeName: string, checkId: string, w: Write): void {
    const node = this.node(nodeName);
    const c = node?.checks.get(checkId);
    if (!node || !c) return;
    this.checkTouches(node, c, w);
    if (c.serviceId === '') this.indexes.bump(TABLE_SERVICES, w);
    node.checks.delete(checkId);
    this.indexes.bump(TABLE_CHECKS, w);
  }

  deleteService(nodeName: string, serviceId: string, w: Write): void {
    const node = this.node(nodeName);
    const svc = node?.services.get(serviceId);
    if (!node || !svc) return;
    for (const c of [...node.checks.values()]) if (c.serviceId === serviceId) this.deleteCheck(node.name, c.checkId, w);
    this.indexes.bump(TABLE_CHECKS, w);
    this.removeInstance(node, svc, w);
  }

  private removeInstance(node: NodeRecord, svc: ServiceRecord, w: Write): void {
    node.services.delete(svc.id);
    const lower = svc.name.toLowerCase();
    const group = this.byService.get(lower);
    group?.delete(instanceKey(node.name, svc.id));
    this.servicesVersion++;
    this.indexes.bump(TABLE_SERVICES, w);
    this.indexes.bump(TABLE_NODES, w);
    this.indexes.bump(nodeEntry(node.name), w);
    if (group && group.size > 0) {
      this.indexes.bump(serviceEntry(svc.name), w);
    } else {
      this.byService.delete(lower);
      this.indexes.drop(serviceEntry(svc.name), w);
      this.indexes.bump(SERVICE_EXTINCTION, w);
    }
  }

  deleteNode(nodeName: string, w: Write): void {
    const node = this.node(nodeName);
    if (!node) return;
    this.bumpServicesOfNode(node, w);
    for (const id of [...node.services.keys()]) this.deleteService(node.name, id, w);
    for (const id of [...node.checks.keys()]) this.deleteCheck(node.name, id, w);
    this.nodes.delete(node.name.toLowerCase());
    this.indexes.bump(TABLE_NODES, w);
    this.indexes.drop(nodeEntry(node.name), w);
    this.indexes.bump(NODE_EXTINCTION, w);
  }

  /** Snapshot restore to an older index: no record keeps an index above `to`. */
  clamp(to: number): void {
    const cap = (r: { createIndex: number; modifyIndex: number }): void => {
      r.createIndex = Math.min(r.createIndex, to);
      r.modifyIndex = Math.min(r.modifyIndex, to);
    };
    for (const n of this.nodes.values()) {
      cap(n);
      for (const s of n.services.values()) cap(s);
      for (const c of n.checks.values()) cap(c);
    }
  }
}

function sameCheck(a: CheckRecord, b: CheckRecord): boolean {
  return a.name === b.name && a.status === b.status && a.notes === b.notes && a.output === b.output && a.serviceId === b.serviceId
    && a.serviceName === b.serviceName && sameList(a.serviceTags, b.serviceTags) && a.type === b.type && a.interval === b.interval
    && a.timeout === b.timeout;
}
