// ACLs as a Consul agent with `acl { enabled = true, default_policy = "deny" }` applies them:
// tokens resolve to rules; the management token may do anything; a request without a token gets
// the anonymous rules (none unless configured); an unknown token is 403 "ACL not found".
// Reads without permission are filtered (with X-Consul-Results-Filtered-By-ACLs), a KV read of a
// denied key and every denied write are 403 "Permission denied: …" as Consul words it.
//
// Rules map onto Consul's: serviceRead → service(_prefix) "x" { policy = "read" }; nodeRead →
// node_prefix "" read; keyRead/keyWrite → key_prefix; agentWrite → agent write plus node and
// service write everywhere (catalog register/deregister, agent service and check endpoints);
// agent:read (for /v1/agent/self) is granted by agentWrite or nodeRead.

import { createHash } from 'node:crypto';
import { ConsulHttpError, type ConsulDoubleOptions, type ConsulTokenRules } from './types.ts';

export interface Authz {
  readonly token: string;
  serviceRead(name: string): boolean;
  nodeRead(name: string): boolean;
  keyRead(key: string): boolean;
  keyWrite(key: string): boolean;
  agentRead(): boolean;
  agentWrite(): boolean;
  /** The 403 Consul sends when this token lacks `permission` (e.g. "key:write") on `object`. */
  denied(permission: string, object: string, viaRpc: boolean): ConsulHttpError;
}

const ALLOW_ALL = (token: string): Authz => ({
  token,
  serviceRead: () => true,
  nodeRead: () => true,
  keyRead: () => true,
  keyWrite: () => true,
  agentRead: () => true,
  agentWrite: () => true,
  denied: (permission, object) => new ConsulHttpError(403, `Permission denied: lacks permission '${permission}' on "${object}"`),
});

function accessorOf(token: string): string {
  const h = createHash('sha256').update(token).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function nameAllowed(patterns: readonly string[] | undefined, name: string): boolean {
  return (patterns ?? []).some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : p === name));
}

function prefixAllowed(prefixes: readonly string[] | undefined, key: string): boolean {
  return (prefixes ?? []).some((p) => key.startsWith(p));
}

function fromRules(token: string, rules: ConsulTokenRules, anonymous: boolean): Authz {
  const who = anonymous ? 'anonymous token' : `token with AccessorID '${accessorOf(token)}'`;
  return {
    token,
    serviceRead: (name) => nameAllowed(rules.serviceRead, name),
    nodeRead: () => rules.nodeRead === true,
    keyRead: (key) => prefixAllowed(rules.keyRead, key) || prefixAllowed(rules.keyWrite, key),
    keyWrite: (key) => prefixAllowed(rules.keyWrite, key),
    agentRead: () => rules.agentWrite === true || rules.nodeRead === true,
    agentWrite: () => rules.agentWrite === true,
    denied: (permission, object, viaRpc) =>
      new ConsulHttpError(403, `${viaRpc ? 'rpc error making call: ' : ''}Permission denied: ${who} lacks permission '${permission}' on "${object}"`),
  };
}

export class AclResolver {
  private readonly config: ConsulDoubleOptions['acl'];

  constructor(config: ConsulDoubleOptions['acl']) {
    this.config = config;
  }

  get enabled(): boolean {
    return this.config !== undefined;
  }

  get defaultPolicy(): 'allow' | 'deny' {
    return this.enabled ? 'deny' : 'allow';
  }

  /** The rules of `token` ('' = none sent); an unknown token throws 403 "ACL not found". */
  resolve(token: string, viaRpc: boolean): Authz {
    const cfg = this.config;
    if (!cfg || token === cfg.managementToken) return ALLOW_ALL(token);
    if (token === '' || token === 'anonymous') return fromRules(token, cfg.anonymous ?? {}, true);
    const rules = cfg.tokens && Object.hasOwn(cfg.tokens, token) ? cfg.tokens[token] : undefined;
    if (!rules) throw new ConsulHttpError(403, `${viaRpc ? 'rpc error making call: ' : ''}ACL not found`);
    return fromRules(token, rules, false);
  }
}
