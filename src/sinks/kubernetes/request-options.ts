// Per-request options for client-node's generated APIs: a timeout, so a server that accepts the
// connection and never answers cannot stall a write batch or a Lease renewal.

import { Observable, type ConfigurationOptions } from '@kubernetes/client-node';

export function requestTimeout(ms: number): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (context) => {
          context.setSignal(AbortSignal.timeout(ms));
          return new Observable(Promise.resolve(context));
        },
        post: (response) => new Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}
