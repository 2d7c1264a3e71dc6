import { InvalidOptionsError } from '../errors/migration-lock.errors.js';
import { messages } from '../errors/migration-lock.messages.js';
import { checkOneOf, checkTableName } from '../errors/option-checks.js';

/** What a finding of validation does: logged, refused (nothing runs), or not looked for. */
export type DriftLevel = 'warn' | 'fail' | 'off';

/** The findings a level can be set for (the others, unrecorded and unverifiable, are only logged). */
export type DriftCheck = 'changed' | 'missing' | 'outOfOrder';

/** The option `validate`: one level for every check, or one per check (unnamed ones: `warn`). */
export type ValidateOption = DriftLevel | { readonly [K in DriftCheck]?: DriftLevel };

export type DriftLevels = Readonly<Record<DriftCheck, DriftLevel>>;

export const DRIFT_LEVELS: readonly DriftLevel[] = ['warn', 'fail', 'off'];
const CHECKS: readonly DriftCheck[] = ['changed', 'missing', 'outOfOrder'];

/** The default history table; `historyTable: false` keeps no history. */
export const DEFAULT_HISTORY_TABLE = 'migration_lock_history';

/** `validate` checked and spelt out per check; undefined is `warn` for each. */
export function resolveValidate(where: string, value: unknown): DriftLevels {
  if (value === undefined || typeof value === 'string') {
    const level = value === undefined ? 'warn' : checkOneOf(where, 'validate', value, DRIFT_LEVELS);
    return { changed: level, missing: level, outOfOrder: level };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidOptionsError(
      messages.invalidOption(
        where,
        'validate',
        "'warn', 'fail', 'off' or { changed?, missing?, outOfOrder? } of those",
        value,
      ),
    );
  const given = value as Record<string, unknown>;
  const unknown = Object.keys(given).find((key) => !CHECKS.includes(key as DriftCheck));
  if (unknown !== undefined)
    throw new InvalidOptionsError(
      messages.invalidOption(
        where,
        `validate.${unknown}`,
        'one of changed, missing, outOfOrder',
        unknown,
      ),
    );
  const level = (check: DriftCheck) =>
    given[check] === undefined
      ? 'warn'
      : checkOneOf(where, `validate.${check}`, given[check], DRIFT_LEVELS);
  return { changed: level('changed'), missing: level('missing'), outOfOrder: level('outOfOrder') };
}

/** `historyTable` checked: a table name, or false for no history; undefined is the default. */
export function resolveHistoryTable(where: string, value: unknown): string | false {
  if (value === undefined) return DEFAULT_HISTORY_TABLE;
  if (value === false) return false;
  return checkTableName(where, 'historyTable', value);
}
