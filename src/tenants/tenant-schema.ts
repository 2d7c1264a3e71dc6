import { InvalidTenantSchemaError } from '../errors/migration.errors.js';

/*
 * A tenant's schema name, checked before any SQL: names may come from a table the app reads
 * (option `tenants.schemas` as a function), so nothing that is not a plain identifier reaches a
 * statement. Always quoted where it is used, so the case it is written in is the name.
 */

/** PostgreSQL keeps 63 bytes of a name (NAMEDATALEN − 1) and cuts the rest silently. */
const MAX_NAME_BYTES = 63;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*$/;

/**
 * `schema` when it is a plain identifier PostgreSQL keeps as written: a letter or `_`, then letters,
 * digits, `_` or `$`, at most 63 bytes, not `pg_…` (reserved for the system's schemas) nor
 * `information_schema`.
 * @throws InvalidTenantSchemaError
 */
export function checkTenantSchema(schema: unknown): string {
  if (
    typeof schema !== 'string' ||
    !IDENTIFIER.test(schema) ||
    Buffer.byteLength(schema) > MAX_NAME_BYTES ||
    /^pg_/i.test(schema) ||
    schema.toLowerCase() === 'information_schema'
  )
    throw InvalidTenantSchemaError.create(schema);
  return schema;
}

/** `"schema"`: a checked name, quoted for a statement. */
export function schemaIdentifier(schema: string): string {
  return `"${checkTenantSchema(schema)}"`;
}
