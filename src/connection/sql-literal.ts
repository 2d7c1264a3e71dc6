import pg from 'pg';

/**
 * A string literal for a statement sent as text (the simple protocol, where several statements
 * share one round trip and cannot take parameters). pg's escapeLiteral makes it valid whatever
 * standard_conforming_strings says; a NUL cannot be stored in text at all.
 */
export function textLiteral(value: string): string {
  if (value.includes('\0')) throw new TypeError('a text value cannot contain NUL');
  // pg puts a space before the E of an escape string (' E'...'): not part of the literal.
  return pg.escapeLiteral(value).trimStart();
}

/** An integer for a statement sent as text; only integers the library computed and checked. */
export function integerLiteral(value: number): string {
  if (!Number.isSafeInteger(value)) throw new TypeError(`not an integer: ${value}`);
  return String(value);
}

/**
 * A table name checked by checkTableName (letters, digits, _, one optional schema), quoted for a
 * statement: `"schema"."table"`.
 */
export function tableIdentifier(table: string): string {
  return table
    .split('.')
    .map((part) => `"${part}"`)
    .join('.');
}
