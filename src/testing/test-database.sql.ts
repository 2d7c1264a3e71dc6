/*
 * Every SQL statement the testing entry sends, in one place. Database names are made by this
 * package (a fixed prefix, hex digits, a pid) and checked before they are quoted: nothing a caller
 * gives is interpolated.
 */

const SAFE_NAME = /^[a-z0-9_]{1,63}$/;

/** A database name this package made, quoted; anything else is a bug, thrown before any SQL runs. */
export function quoted(name: string): string {
  if (!SAFE_NAME.test(name)) throw new TypeError(`not a database name this package made: ${name}`);
  return `"${name}"`;
}

/** Databases of one namespace with their template flag: templates and leftover test databases. */
export const DATABASES_LIKE_SQL =
  'SELECT datname AS name, datistemplate AS complete FROM pg_catalog.pg_database WHERE datname LIKE $1';

export const createDatabaseSql = (name: string) => `CREATE DATABASE ${quoted(name)}`;

/**
 * What a template's comment says: the database whose namespace it serves, so that the template can
 * be found once that database is gone. The comment is a literal the pg client escaped.
 */
export const TEMPLATE_COMMENT_PREFIX = 'nestjs-migration-lock template of database ';
export const commentOnDatabaseSql = (name: string, escapedLiteral: string) =>
  `COMMENT ON DATABASE ${quoted(name)} IS ${escapedLiteral}`;

/** Templates (complete or not) whose comment names a database that no longer exists. $1: the prefix. */
export const ORPHAN_TEMPLATES_SQL = `
SELECT t.datname AS name
  FROM pg_catalog.pg_database t
 WHERE t.datname LIKE 'mlt\\_%\\_t\\_%'
   AND pg_catalog.starts_with(pg_catalog.shobj_description(t.oid, 'pg_database'), $1)
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_database s
                    WHERE s.datname = pg_catalog.substr(pg_catalog.shobj_description(t.oid, 'pg_database'), pg_catalog.length($1) + 1))`;

/** The clone: PostgreSQL copies the template's files, which takes milliseconds, not a migration run. */
export const cloneDatabaseSql = (name: string, template: string) =>
  `CREATE DATABASE ${quoted(name)} TEMPLATE ${quoted(template)}`;

/** Claims a spare: a rename only touches the catalog, so the spare becomes the test database at once. */
export const renameDatabaseSql = (from: string, to: string) =>
  `ALTER DATABASE ${quoted(from)} RENAME TO ${quoted(to)}`;

/**
 * Ends a session still cloning a spare at process exit, and waits (up to 5 s, PostgreSQL 14+) until
 * it is gone: PostgreSQL then rolls the clone back, and the drop that follows finds what committed.
 */
export const TERMINATE_SESSION_SQL = 'SELECT pg_catalog.pg_terminate_backend($1::int4, 5000)';

/** Marks a template complete (every migration applied) and lets roles without CREATEDB clone it. */
export const markTemplateSql = (name: string) => `ALTER DATABASE ${quoted(name)} IS_TEMPLATE true`;

/** A template database cannot be dropped before it is unmarked. */
export const unmarkTemplateSql = (name: string) =>
  `ALTER DATABASE ${quoted(name)} IS_TEMPLATE false`;

/** FORCE ends sessions a test left open (PostgreSQL 13+). */
export const dropDatabaseSql = (name: string) =>
  `DROP DATABASE IF EXISTS ${quoted(name)} WITH (FORCE)`;
