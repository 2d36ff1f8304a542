// An in-process Consul agent for tests, on node:http at 127.0.0.1: catalog, health, KV, agent,
// status and UI services-summary endpoints with Consul's JSON, headers, per-table and per-service
// raft indexes, blocking queries, ACL tokens and error texts; plus faults to inject and statistics
// to assert on.
// The semantics it keeps, and where they come from in Consul's source, are described in the
// files it is made of (catalog-store.ts, reads.ts, routes-*.ts, filter.ts, acl.ts).

import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AGENT_ADDRESS, AgentState, CONSUL_VERSION } from './agent-state.ts';
import { Exchange } from './exchange.ts';
import { FaultState, failureText, type MalformedKind } from './faults.ts';
import { Listener } from './listener.ts';
import { catalogRegistration } from './register-body.ts';
import { dispatch } from './router.ts';
import { applyDeregister } from './routes-catalog.ts';
import type { RouteContext } from './route-types.ts';
import { RequestStats, type RequestLogEntry } from './stats.ts';
import type { CheckStatus, ConsulDoubleOptions } from './types.ts';

export type { ConsulDoubleOptions, ConsulTokenRules } from './types.ts';
export { ConsulHttpError } from './types.ts';
export type { MalformedKind } from './faults.ts';
export type { RequestLogEntry } from './stats.ts';

export class ConsulDouble {
  private readonly state: AgentState;
  private readonly faultState = new FaultState();
  private readonly requestStats = new RequestStats();
  private readonly listener: Listener;
  private readonly held = new Set<Exchange>();
  private readonly ctx: RouteContext;

  /** Starts a double listening on 127.0.0.1 on a free port. */
  static async start(opts: ConsulDoubleOptions = {}): Promise<ConsulDouble> {
    const double = new ConsulDouble(opts);
    await double.listener.listen(0);
    return double;
  }

  private constructor(opts: ConsulDoubleOptions) {
    this.state = new AgentState(opts);
    this.ctx = { state: this.state, faults: this.faultState };
    this.listener = new Listener(this.state.maxConnsPerClient, (req, res) => this.onRequest(req, res));
    // The agent's own node is in the catalog from the start, with its Serf health check.
    this.register({
      ID: randomUUID(),
      Node: this.state.nodeName,
      Address: AGENT_ADDRESS,
      NodeMeta: { 'consul-network-segment': '', 'consul-version': CONSUL_VERSION },
      Check: { CheckID: 'serfHealth', Name: 'Serf Health Status', Status: 'passing', Output: 'Agent alive and reachable' },
    });
  }

  get url(): string {
    return `http://${AGENT_ADDRESS}:${this.listener.port}`;
  }

  get port(): number {
    return this.listener.port;
  }

  /** Current raft index (the highest index ever handed out; only resetIndex lowers what endpoints report). */
  get index(): number {
    return this.state.raft;
  }

  /** Same JSON body as PUT /v1/catalog/register; returns the new raft index. Throws ConsulHttpError as the endpoint would answer. */
  register(body: object): number {
    const req = catalogRegistration(body);
    this.state.catalog.validate(req);
    return this.state.write((w) => this.state.catalog.ensureRegistration(req, w)).idx;
  }

  /** Same as PUT /v1/catalog/deregister: a service (with its checks), else a check, else the node. */
  deregister(body: { Node: string; ServiceID?: string; CheckID?: string }): number {
    return applyDeregister(this.state, body.Node, body.ServiceID ?? '', body.CheckID ?? '');
  }

  setCheckStatus(node: string, checkId: string, status: CheckStatus, output?: string): number {
    return this.state.write((w) => this.state.catalog.setCheckStatus(node, checkId, status, output, w)).idx;
  }

  kvSet(key: string, value: string | Buffer, flags = 0): number {
    const bytes = typeof value === 'string' ? Buffer.from(value) : value;
    return this.state.write((w) => this.state.kv.set(key, bytes.length > 0 ? Buffer.from(bytes) : null, flags, w)).idx;
  }

  kvGet(key: string): { value: Buffer; modifyIndex: number; createIndex: number; flags: number } | null {
    const e = this.state.kv.get(key);
    if (!e) return null;
    return { value: Buffer.from(e.value ?? Buffer.alloc(0)), modifyIndex: e.modifyIndex, createIndex: e.createIndex, flags: e.flags };
  }

  kvDelete(key: string): number {
    return this.state.write((w) => this.state.kv.delete(key, w)).idx;
  }

  readonly faults = {
    /** Close the listener and destroy every open socket: connections are refused. */
    down: async (): Promise<void> => {
      this.held.clear();
      await this.listener.stop();
    },
    /** Listen again on the same port. */
    up: async (): Promise<void> => {
      if (!this.listener.listening) await this.listener.listen(this.listener.port);
    },
    /** Accept requests but never answer them; hang(false) answers the held ones normally. */
    hang: (on: boolean): void => {
      this.faultState.hanging = on;
      if (on) return;
      const held = [...this.held];
      this.held.clear();
      for (const x of held) void this.handle(x);
    },
    /** The next `count` requests under `pathPrefix` get `status` (default 500) with Consul's text; 0 clears. */
    fail: (count: number | 'always', status = 500, pathPrefix = ''): void => {
      this.faultState.fail(count, status, pathPrefix);
    },
    /** Snapshot restore: every index reported drops to `to` (default 1); parked queries return at once. */
    resetIndex: (to = 1): void => {
      this.state.resetIndex(Math.max(1, to));
    },
    /** Reads under `pathPrefix` come back malformed until malformed(null). */
    malformed: (kind: MalformedKind | null, pathPrefix = ''): void => {
      this.faultState.malformed(kind, pathPrefix);
    },
    /** Destroy the sockets of every parked blocking query. */
    dropParked: (): void => {
      this.state.waiters.dropAll();
    },
  };

  readonly stats = {
    requests: (pathPrefix = ''): number => this.requestStats.requests(pathPrefix),
    log: (): ReadonlyArray<RequestLogEntry> => this.requestStats.log(),
    openConnections: (): number => this.listener.open,
    maxOpenConnections: (): number => this.listener.maxOpenConnections,
    peerPorts: (): number[] => this.listener.peerPorts(),
    parked: (): number => this.state.waiters.size,
    reset: (): void => {
      this.requestStats.reset();
      this.listener.resetMax();
    },
  };

  /** Ends everything; resolves when the port is free. */
  async close(): Promise<void> {
    this.held.clear();
    this.state.waiters.shutdown();
    await this.listener.stop();
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const x = new Exchange(req, res, this.state.acl.defaultPolicy);
    this.requestStats.record({ method: x.method, path: x.path, query: Object.fromEntries(x.query), token: x.tokenForLog(), at: Date.now() });
    if (this.faultState.hanging) {
      this.held.add(x);
      res.once('close', () => this.held.delete(x));
      return;
    }
    void this.handle(x);
  }

  private async handle(x: Exchange): Promise<void> {
    const failure = this.faultState.takeFailure(x.path);
    if (failure !== null) {
      x.sendText(failure, failureText(failure));
      return;
    }
    try {
      await dispatch(x, this.ctx);
    } catch (err) {
      x.sendError(err);
    }
  }
}
