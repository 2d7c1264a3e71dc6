import { InvalidOptionsError } from './migration-lock.errors.js';
import { messages } from './migration-lock.messages.js';

/** lock_timeout is an int4 number of milliseconds. */
export const MAX_TIMEOUT_MS = 2_147_483_647;

/** Small checks shared by module options and per-call options; each throws InvalidOptionsError. */

/** A plain options object; undefined stands for `{}` unless the options are `required`. */
export function checkOptionsObject(
  where: string,
  options: unknown,
  { required = false } = {},
): Record<string, unknown> {
  if (options === undefined && !required) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionsError(messages.invalidOption(where, 'options', 'an object', options));
  }
  return options as Record<string, unknown>;
}

export function checkKnownKeys(where: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key))
      throw new InvalidOptionsError(messages.unknownOption(where, key, known));
  }
}

export function checkTimeoutMs(where: string, option: string, value: unknown): number {
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < 0 ||
    value > MAX_TIMEOUT_MS
  ) {
    throw new InvalidOptionsError(
      messages.invalidOption(
        where,
        option,
        `an integer number of ms from 0 (wait forever) to ${MAX_TIMEOUT_MS}`,
        value,
      ),
    );
  }
  return value;
}

export function checkNonEmptyString(where: string, option: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidOptionsError(
      messages.invalidOption(where, option, 'a non-empty string', value),
    );
  }
  return value;
}

/** A PostgreSQL identifier this package can quote safely: `name` or `schema.name`, each ≤ 63 bytes. */
const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/;

export function checkTableName(where: string, option: string, value: unknown): string {
  if (typeof value !== 'string' || !TABLE_NAME.test(value)) {
    throw new InvalidOptionsError(
      messages.invalidOption(
        where,
        option,
        'a table name (letters, digits, _; optionally schema.table)',
        value,
      ),
    );
  }
  return value;
}

export function checkBoolean(where: string, option: string, value: unknown): boolean {
  if (typeof value !== 'boolean') {
    throw new InvalidOptionsError(messages.invalidOption(where, option, 'true or false', value));
  }
  return value;
}

export function checkOneOf<T extends string>(
  where: string,
  option: string,
  value: unknown,
  allowed: readonly T[],
): T {
  if (!allowed.includes(value as T)) {
    throw new InvalidOptionsError(
      messages.invalidOption(
        where,
        option,
        `one of ${allowed.map((a) => `'${a}'`).join(', ')}`,
        value,
      ),
    );
  }
  return value as T;
}

export function checkAbortSignal(where: string, value: unknown): AbortSignal | undefined {
  if (value !== undefined && !(value instanceof AbortSignal)) {
    throw new InvalidOptionsError(messages.invalidOption(where, 'signal', 'an AbortSignal', value));
  }
  return value;
}

/** application_name: printable ASCII, at most 63 bytes (longer is cut by the server). */
export function checkApplicationName(where: string, value: unknown): string {
  if (typeof value !== 'string' || !/^[\x20-\x7e]{1,63}$/.test(value)) {
    throw new InvalidOptionsError(
      messages.invalidOption(
        where,
        'applicationName',
        'printable ASCII, 1 to 63 characters',
        value,
      ),
    );
  }
  return value;
}

/**
 * A postgres:// URL. The value is never echoed: it may hold a password.
 */
export function checkPostgresUrl(where: string, option: string, value: unknown): string {
  let valid = false;
  if (typeof value === 'string') {
    try {
      valid = ['postgres:', 'postgresql:'].includes(new URL(value).protocol);
    } catch {
      valid = false;
    }
  }
  if (!valid) throw new InvalidOptionsError(messages.invalidUrlOption(where, option));
  return value as string;
}

/** The name @nestjs/typeorm gives the DataSource registered without one. */
export const DEFAULT_DATA_SOURCE_NAME = 'default';

/** A DataSource name as registrations compare it: undefined for the default one, named or not. */
export function namedDataSource(name: string | undefined): string | undefined {
  return name === DEFAULT_DATA_SOURCE_NAME ? undefined : name;
}
