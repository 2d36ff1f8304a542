// Who looked up what: per calling workload, per egress host, when it was first and last seen and
// under which Consul names. Bounded, so a misbehaving caller cannot grow memory without limit;
// what it drops is counted, and a dropped observation never removes a host already written
// (the written Sidecar, not this map, is what the reconciler carries forward).

export interface ObservedHost {
  readonly firstSeen: number;
  lastSeen: number;
  /** Lower-cased Consul service names that resolved to this host. */
  readonly services: Set<string>;
}

export type RecordOutcome = 'new' | 'renewed' | 'dropped';

export interface RecorderLimits {
  readonly maxWorkloads: number;
  readonly maxHostsPerWorkload: number;
}

export class ObservationRecorder {
  readonly #byWorkload = new Map<string, Map<string, ObservedHost>>();
  readonly #limits: RecorderLimits;
  #dropped = 0;

  constructor(limits: RecorderLimits) {
    this.#limits = limits;
  }

  record(workload: string, host: string, service: string, at: number): RecordOutcome {
    let hosts = this.#byWorkload.get(workload);
    if (!hosts) {
      if (this.#byWorkload.size >= this.#limits.maxWorkloads) return this.#drop();
      hosts = new Map();
      this.#byWorkload.set(workload, hosts);
    }
    const seen = hosts.get(host);
    if (seen) {
      if (at > seen.lastSeen) seen.lastSeen = at;
      seen.services.add(service);
      return 'renewed';
    }
    if (hosts.size >= this.#limits.maxHostsPerWorkload) return this.#drop();
    hosts.set(host, { firstSeen: at, lastSeen: at, services: new Set([service]) });
    return 'new';
  }

  /** Seed from what the sink holds after a restart, so expiry resumes from persisted times. */
  seed(workload: string, host: string, lastSeen: number): void {
    let hosts = this.#byWorkload.get(workload);
    if (!hosts) {
      hosts = new Map();
      this.#byWorkload.set(workload, hosts);
    }
    const seen = hosts.get(host);
    if (seen) seen.lastSeen = Math.max(seen.lastSeen, lastSeen);
    else hosts.set(host, { firstSeen: lastSeen, lastSeen, services: new Set() });
  }

  /** Forget a host the reconciler removed by expiry (so it is not re-added from memory). */
  forget(workload: string, host: string): void {
    const hosts = this.#byWorkload.get(workload);
    hosts?.delete(host);
    if (hosts && hosts.size === 0) this.#byWorkload.delete(workload);
  }

  get(workload: string, host: string): ObservedHost | undefined {
    return this.#byWorkload.get(workload)?.get(host);
  }

  hosts(workload: string): ReadonlyMap<string, ObservedHost> {
    return this.#byWorkload.get(workload) ?? new Map();
  }

  lastSeenMap(workload: string): Map<string, number> {
    return new Map([...this.hosts(workload)].map(([h, o]) => [h, o.lastSeen]));
  }

  workloads(): IterableIterator<string> {
    return this.#byWorkload.keys();
  }

  get size(): { workloads: number; pairs: number; dropped: number } {
    let pairs = 0;
    for (const h of this.#byWorkload.values()) pairs += h.size;
    return { workloads: this.#byWorkload.size, pairs, dropped: this.#dropped };
  }

  #drop(): RecordOutcome {
    this.#dropped++;
    return 'dropped';
  }
}
