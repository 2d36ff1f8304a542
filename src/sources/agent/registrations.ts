// Services registered on this agent (PUT /v1/agent/service/register: Spring Cloud Consul and go-micro
// self-register at start and fail to boot without it), with their checks. Consul catalog data that
// arrives through the HTTP API instead of a snapshot: the world feed merges it into the catalog.
// Kept in <stateDir>/agent-services.json so a restart keeps them; TTL checks turn critical on the
// injected clock when their client stops heartbeating, as Consul's agent does.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../platform/atomic-file.ts';
import type { Clock, Timer } from '../../platform/clock.ts';
import { compareStrings } from '../../platform/compare.ts';
import { DiscoveryError, errorMessage } from '../../platform/errors.ts';
import { parseGoDuration } from '../../platform/go-duration.ts';
import { SerialQueue } from '../../platform/serial-queue.ts';
import type { IndexClock } from '../../world/changes.ts';
import type { CheckStatus, ConsulInstance, ConsulNode, HealthCheck, NodeService } from '../../world/consul-types.ts';
import { validateAgentState, type AgentCheck, type AgentService, type AgentState } from './state-file.ts';

export type { AgentCheck, AgentService } from './state-file.ts';

/** A decoded registration request (the HTTP front end decodes Consul's body into this). */
export interface ServiceRegistration {
  readonly id: string;
  readonly name: string;
  readonly tags: readonly string[];
  readonly address: string;
  readonly port: number;
  readonly meta: Readonly<Record<string, string>>;
  readonly weights: { readonly Passing: number; readonly Warning: number };
  readonly enableTagOverride: boolean;
  readonly taggedAddresses: Readonly<Record<string, { readonly Address: string; readonly Port: number }>>;
  readonly checks: readonly CheckRegistration[];
}

export interface CheckRegistration {
  /** Empty: Consul's default (`service:<id>`, or `service:<id>:<n>` when there are several). */
  readonly checkId: string;
  readonly name: string;
  /** ttl, http, tcp, grpc, script or '' */
  readonly type: string;
  /** Empty: TTL checks start critical, the others passing (Discovery runs no probes). */
  readonly status: CheckStatus | '';
  readonly notes: string;
  readonly interval: string;
  readonly timeout: string;
  /** Go duration; TTL checks only. */
  readonly ttl: string;
}

/** A request the agent refuses, with the kind the HTTP front end maps to Consul's status code. */
export class AgentRequestError extends Error {
  readonly kind: 'unknown-service' | 'unknown-check' | 'not-ttl' | 'bad-status';
  constructor(kind: AgentRequestError['kind'], message: string) {
    super(message);
    this.kind = kind;
  }
}

export interface AgentNode {
  readonly name: string;
  readonly address: string;
  readonly datacenter: string;
}

const FILE = 'agent-services.json';
const STATUSES: readonly CheckStatus[] = ['passing', 'warning', 'critical'];

export class AgentRegistrations {
  #state: AgentState = { services: [], checks: [] };
  readonly #path: string;
  readonly #indexClock: IndexClock;
  readonly #clock: Clock;
  readonly #listeners = new Set<() => void>();
  readonly #ttlTimers = new Map<string, Timer>();
  readonly #writes = new SerialQueue();

  private constructor(dir: string, indexClock: IndexClock, clock: Clock) {
    this.#path = join(dir, FILE);
    this.#indexClock = indexClock;
    this.#clock = clock;
  }

  /** Loads the saved registrations; a corrupt file is an error, never silently dropped. */
  static async open(deps: { dir: string; indexClock: IndexClock; clock: Clock }): Promise<AgentRegistrations> {
    const store = new AgentRegistrations(deps.dir, deps.indexClock, deps.clock);
    let text: string | null = null;
    try {
      text = await readFile(store.#path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new DiscoveryError('DSC_ERR_STATE', `cannot read ${store.#path}: ${errorMessage(err)}`);
    }
    if (text !== null) {
      try {
        store.#state = validateAgentState(JSON.parse(text));
      } catch (err) {
        throw new DiscoveryError('DSC_ERR_STATE', `state file ${store.#path} is invalid: ${errorMessage(err)}; fix or remove it`);
      }
      for (const c of store.#state.checks) if (c.Type === 'ttl' && c.Status !== 'critical') store.#armTtl(c);
    }
    return store;
  }

  /** Called after every change that alters what the catalog shows. Returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  services(): readonly AgentService[] {
    return this.#state.services;
  }

  checks(): readonly AgentCheck[] {
    return this.#state.checks;
  }

  service(id: string): AgentService | undefined {
    return this.#state.services.find((s) => s.ID === id);
  }

  /** Register (or replace) a service and its checks. A TTL check whose ID survives keeps its status. */
  register(reg: ServiceRegistration): Promise<void> {
    return this.#change(() => {
      const index = this.#indexClock.next();
      const prev = this.service(reg.id);
      const svc: AgentService = {
        ID: reg.id,
        Service: reg.name,
        Tags: reg.tags,
        Address: reg.address,
        Port: reg.port,
        Meta: reg.meta,
        Weights: reg.weights,
        EnableTagOverride: reg.enableTagOverride,
        ...(Object.keys(reg.taggedAddresses).length > 0 ? { TaggedAddresses: reg.taggedAddresses } : {}),
        CreateIndex: prev?.CreateIndex ?? index,
        ModifyIndex: index,
      };
      const oldChecks = new Map(this.#state.checks.filter((c) => c.ServiceID === reg.id).map((c) => [c.CheckID, c]));
      const checks = reg.checks.map((c, i): AgentCheck => {
        const checkId = c.checkId || (reg.checks.length === 1 ? `service:${reg.id}` : `service:${reg.id}:${i + 1}`);
        const kept = oldChecks.get(checkId);
        // A TTL check starts critical as in Consul (the client heartbeats it); any other kind is
        // shown passing, since nothing here would ever turn it passing.
        const status: CheckStatus = c.status || kept?.Status || (c.type === 'ttl' ? 'critical' : 'passing');
        const output = kept?.Output ?? (c.type === 'ttl' || c.type === '' ? '' : `${c.type} check is not run by Discovery`);
        return {
          CheckID: checkId,
          Name: c.name || `Service '${reg.name}' check`,
          Status: status,
          Notes: c.notes,
          Output: output,
          ServiceID: reg.id,
          ServiceName: reg.name,
          Type: c.type,
          Interval: c.interval,
          Timeout: c.timeout,
          TTL: c.ttl,
          ModifyIndex: index,
        };
      });
      return {
        services: [...this.#state.services.filter((s) => s.ID !== reg.id), svc].sort((a, b) => compareStrings(a.ID, b.ID)),
        checks: [...this.#state.checks.filter((c) => c.ServiceID !== reg.id), ...checks],
      };
    }).then(() => {
      for (const c of this.#state.checks) if (c.ServiceID === reg.id && c.Type === 'ttl') this.#armTtl(c);
    });
  }

  deregister(id: string): Promise<void> {
    return this.#change(() => {
      if (!this.service(id)) throw new AgentRequestError('unknown-service', `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`);
      for (const c of this.#state.checks) if (c.ServiceID === id) this.#disarmTtl(c.CheckID);
      return { services: this.#state.services.filter((s) => s.ID !== id), checks: this.#state.checks.filter((c) => c.ServiceID !== id) };
    });
  }

  /** pass / warn / fail / update of a TTL check, as Consul allows for TTL checks only. */
  updateCheck(checkId: string, status: string, output: string): Promise<void> {
    if (!STATUSES.includes(status as CheckStatus)) return Promise.reject(new AgentRequestError('bad-status', `Invalid check status: '${status}'`));
    const existing = this.#state.checks.find((c) => c.CheckID === checkId);
    if (!existing) return Promise.reject(new AgentRequestError('unknown-check', `Unknown check ID "${checkId}". Ensure that the check ID is passed, not the check name.`));
    if (existing.Type !== 'ttl') return Promise.reject(new AgentRequestError('not-ttl', `CheckID "${checkId}" does not have associated TTL`));
    if (status === 'critical') this.#disarmTtl(checkId);
    else this.#armTtl(existing);
    // Heartbeats that change nothing are not writes: no file update, no index bump.
    if (existing.Status === status && existing.Output === output) return Promise.resolve();
    return this.#change(() => ({
      services: this.#state.services,
      checks: this.#state.checks.map((c) => (c.CheckID === checkId ? { ...c, Status: status as CheckStatus, Output: output, ModifyIndex: this.#indexClock.next() } : c)),
    }));
  }

  /** The registrations as catalog instances on this agent's node. */
  instances(node: AgentNode): ConsulInstance[] {
    const consulNode: ConsulNode = {
      ID: '',
      Node: node.name,
      Address: node.address,
      Datacenter: node.datacenter,
      TaggedAddresses: { lan: node.address, lan_ipv4: node.address, wan: node.address, wan_ipv4: node.address },
      Meta: { 'consul-network-segment': '' },
      CreateIndex: 1,
      ModifyIndex: 1,
    };
    return this.#state.services.map((s) => ({
      node: consulNode,
      service: toNodeService(s),
      checks: this.#state.checks.filter((c) => c.ServiceID === s.ID).map((c) => toHealthCheck(c, node.name, s)),
    }));
  }

  /** Stops TTL timers. */
  close(): void {
    for (const t of this.#ttlTimers.values()) t.cancel();
    this.#ttlTimers.clear();
  }

  #armTtl(c: AgentCheck): void {
    this.#disarmTtl(c.CheckID);
    const ms = parseGoDuration(c.TTL);
    if (ms === null || ms <= 0) return;
    const timer = this.#clock.setTimer(ms, () => {
      this.#ttlTimers.delete(c.CheckID);
      const cur = this.#state.checks.find((x) => x.CheckID === c.CheckID);
      if (cur && cur.Status !== 'critical') void this.updateCheck(c.CheckID, 'critical', 'TTL expired').catch(() => undefined);
    });
    this.#ttlTimers.set(c.CheckID, timer);
  }

  #disarmTtl(checkId: string): void {
    this.#ttlTimers.get(checkId)?.cancel();
    this.#ttlTimers.delete(checkId);
  }

  /** Compute the next state, persist it, then apply and notify. Nothing changes if the write fails. */
  #change(next: () => AgentState): Promise<void> {
    return this.#writes.run(async () => {
      const state = next();
      await writeFileAtomic(this.#path, `${JSON.stringify(state, null, 2)}\n`);
      this.#state = state;
      for (const l of this.#listeners) l();
    });
  }
}

function toNodeService(s: AgentService): NodeService {
  return {
    ID: s.ID,
    Service: s.Service,
    Tags: s.Tags,
    Address: s.Address,
    ...(s.TaggedAddresses ? { TaggedAddresses: s.TaggedAddresses } : {}),
    Meta: s.Meta,
    Port: s.Port,
    Weights: s.Weights,
    EnableTagOverride: s.EnableTagOverride,
    CreateIndex: s.CreateIndex,
    ModifyIndex: s.ModifyIndex,
  };
}

/** A check as the catalog shows it: on the agent's node, with its service's tags. */
export function toHealthCheck(c: AgentCheck, node: string, s?: AgentService): HealthCheck {
  return {
    Node: node,
    CheckID: c.CheckID,
    Name: c.Name,
    Status: c.Status,
    Notes: c.Notes,
    Output: c.Output,
    ServiceID: c.ServiceID,
    ServiceName: c.ServiceName,
    ServiceTags: s?.Tags ?? [],
    Type: c.Type,
    Interval: c.Interval,
    Timeout: c.Timeout,
    CreateIndex: c.ModifyIndex,
    ModifyIndex: c.ModifyIndex,
  };
}
