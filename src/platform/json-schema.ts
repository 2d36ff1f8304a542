// JSON Schema validation (ajv) for everything read back from outside the process: state files
// and request bodies. A failure throws an Error naming the first failing field and the rule it
// broke in plain words, e.g. `pins[0].service must match ^[a-z]+$` or
// `mode must be one of hybrid, shadow, consul-only`.

import { Ajv, type ErrorObject } from 'ajv';

export interface SchemaOptions {
  /** What the document is called when the failing value is the document itself, e.g. "body". Default "value". */
  readonly name?: string;
  /**
   * Convert scalars to the declared type first ("5" to 5), for inputs that only carry strings such
   * as query strings. Off by default: a file or JSON body must already hold the right types.
   */
  readonly coerceTypes?: boolean;
}

// allErrors stays off: the first error is the one reported, and collecting all of them costs time
// on large or hostile inputs.
const exact = new Ajv({ strict: true, allErrors: false });
const coercing = new Ajv({ strict: true, allErrors: false, coerceTypes: true });

/**
 * Compiles `schema` once; the returned function returns its argument typed as `T` when it is
 * valid and throws otherwise. With `coerceTypes`, the argument is converted in place.
 */
export function compileSchema<T>(schema: object, options: SchemaOptions = {}): (value: unknown) => T {
  const validate = (options.coerceTypes ? coercing : exact).compile(schema);
  const name = options.name ?? 'value';
  return (value: unknown): T => {
    if (validate(value)) return value as T;
    throw new Error(describeSchemaError(validate.errors?.[0], name));
  };
}

/** One ajv error in plain words, naming the field by its path (`pins[0].service`) or `name` for the root. */
export function describeSchemaError(error: ErrorObject | undefined, name: string): string {
  if (!error) return `${name} is invalid`;
  const path = readablePath(error.instancePath);
  const subject = path || name;
  const p = error.params as {
    missingProperty?: string;
    additionalProperty?: string;
    allowedValues?: readonly unknown[];
    allowedValue?: unknown;
    type?: string | readonly string[];
    pattern?: string;
    limit?: number;
    comparison?: string;
  };
  switch (error.keyword) {
    case 'required':
      return `${joinPath(path, p.missingProperty ?? '?')} is required`;
    case 'additionalProperties':
      return `${joinPath(path, p.additionalProperty ?? '?')} is not a known field`;
    case 'enum':
      return `${subject} must be one of ${(p.allowedValues ?? []).map(String).join(', ')}`;
    case 'const':
      return `${subject} must be ${JSON.stringify(p.allowedValue)}`;
    case 'type':
      return `${subject} must be ${typeWords(p.type ?? 'valid')}`;
    case 'pattern':
      return `${subject} must match ${p.pattern ?? '?'}`;
    case 'minLength':
      return p.limit === 1 ? `${subject} must not be empty` : `${subject} must be at least ${p.limit} characters long`;
    case 'maxLength':
      return `${subject} must be at most ${p.limit} characters long`;
    case 'minimum':
      return `${subject} must be at least ${p.limit}`;
    case 'maximum':
      return `${subject} must be at most ${p.limit}`;
    case 'exclusiveMinimum':
      return `${subject} must be greater than ${p.limit}`;
    case 'exclusiveMaximum':
      return `${subject} must be less than ${p.limit}`;
    case 'minItems':
      return `${subject} must have at least ${p.limit} items`;
    case 'maxItems':
      return `${subject} must have at most ${p.limit} items`;
    default:
      return `${subject} ${error.message ?? 'is invalid'}`;
  }
}

const ARTICLE: Record<string, string> = {
  object: 'an object',
  array: 'an array',
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  null: 'null',
};

function typeWords(type: string | readonly string[]): string {
  const types = typeof type === 'string' ? type.split(',') : type;
  return types.map((t) => ARTICLE[t] ?? t).join(' or ');
}

/** `/pins/0/service` (a JSON Pointer) as `pins[0].service`. */
function readablePath(pointer: string): string {
  if (!pointer) return '';
  let out = '';
  for (const raw of pointer.slice(1).split('/')) out = joinPath(out, raw.replaceAll('~1', '/').replaceAll('~0', '~'));
  return out;
}

function joinPath(path: string, key: string): string {
  if (/^(0|[1-9][0-9]*)$/.test(key)) return `${path}[${key}]`;
  if (/^[A-Za-z_$][\w$-]*$/.test(key)) return path ? `${path}.${key}` : key;
  return `${path}[${JSON.stringify(key)}]`;
}
