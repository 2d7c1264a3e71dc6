import ms from 'ms';
import { CliUsageError } from './cli.errors.js';
import { MAX_TIMEOUT_MS } from '../errors/option-checks.js';

/** `30s`, `5m`, `1h` or a number of milliseconds (`0`: wait forever). */
export function parseDuration(text: string, option = '--timeout'): number {
  let value: number | undefined;
  try {
    value = /^\d+$/.test(text) ? Number(text) : ms(text as ms.StringValue);
  } catch {
    // ms throws on an empty or over-long string: the same usage error as any other bad duration.
  }
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < 0 ||
    value > MAX_TIMEOUT_MS
  ) {
    throw new CliUsageError(
      `Invalid duration "${text}" for ${option}: use a number of milliseconds or a duration such as 30s, 5m or 1h (0 waits forever).`,
    );
  }
  return value;
}
