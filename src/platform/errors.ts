// Coded errors (fastify FST_ERR_* / undici UND_ERR_* style): a stable code for tests and logs,
// a message a person can act on.

export type ErrorCode =
  | 'DSC_ERR_CONFIG'
  | 'DSC_ERR_SNAPSHOT'
  | 'DSC_ERR_STATE'
  | 'DSC_ERR_LISTEN'
  | 'DSC_ERR_ADMIN'
  | 'DSC_ERR_BAD_REQUEST';

export class DiscoveryError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DiscoveryError';
    this.code = code;
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
