// What a route handler gets, and how routes are declared (Go ServeMux patterns: an exact path, or a
// subtree ending in "/" whose rest is the parameter).

import type { AgentState } from './agent-state.ts';
import type { Exchange } from './exchange.ts';
import type { FaultState } from './faults.ts';

export interface RouteContext {
  readonly state: AgentState;
  readonly faults: FaultState;
}

export type Handler = (x: Exchange, ctx: RouteContext, param: string) => void | Promise<void>;

export interface Route {
  readonly path: string;
  readonly subtree: boolean;
  readonly methods: readonly string[];
  readonly handler: Handler;
}

export const exact = (path: string, methods: readonly string[], handler: Handler): Route => ({ path, subtree: false, methods, handler });
export const subtree = (path: string, methods: readonly string[], handler: Handler): Route => ({ path, subtree: true, methods, handler });
