// Dispatch as Go's ServeMux does for Consul's handlers: the longest matching pattern wins, a
// subtree root without its slash is redirected, OPTIONS lists the methods, another method is a
// 405, and anything else is Consul's index handler (404 "Invalid URL path…").

import type { Exchange } from './exchange.ts';
import { agentRoutes } from './routes-agent.ts';
import { catalogRoutes } from './routes-catalog.ts';
import { healthRoutes } from './routes-health.ts';
import { kvRoutes } from './routes-kv.ts';
import { uiRoutes } from './routes-ui.ts';
import type { Route, RouteContext } from './route-types.ts';

const ROUTES: readonly Route[] = [...catalogRoutes, ...healthRoutes, ...kvRoutes, ...agentRoutes, ...uiRoutes];
const EXACT = new Map(ROUTES.filter((r) => !r.subtree).map((r) => [r.path, r]));
const SUBTREES = ROUTES.filter((r) => r.subtree).sort((a, b) => b.path.length - a.path.length);

function indexPage(x: Exchange): void {
  if (x.path === '/') {
    x.sendText(200, 'Consul Agent: UI disabled. To enable, set ui_config.enabled=true in the agent configuration and restart.', [], false);
  } else if (x.path.includes('/v1/')) {
    x.sendText(404, 'Invalid URL path: not a recognized HTTP API endpoint\n', [], false);
  } else {
    x.sendText(404, "Invalid URL path: if attempting to use the HTTP API, ensure the path starts with '/v1/'\n", [], false);
  }
}

export function dispatch(x: Exchange, ctx: RouteContext): void | Promise<void> {
  let route = EXACT.get(x.path);
  let param = '';
  if (!route) {
    route = SUBTREES.find((r) => x.path.startsWith(r.path));
    if (route) param = x.path.slice(route.path.length);
  }
  if (!route) {
    const root = SUBTREES.find((r) => x.path === r.path.slice(0, -1));
    if (root) {
      const search = x.query.toString();
      x.send(301, [['Location', root.path + (search ? `?${search}` : '')]], undefined, false);
      return;
    }
    indexPage(x);
    return;
  }
  const allow = ['OPTIONS', ...route.methods].join(',');
  if (x.method === 'OPTIONS') {
    x.send(200, [['Allow', allow]]);
    return;
  }
  if (!route.methods.includes(x.method)) {
    x.sendText(405, `method ${x.method} not allowed`, [['Allow', allow]]);
    return;
  }
  return route.handler(x, ctx, param);
}
