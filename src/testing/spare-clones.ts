import type { Socket } from 'node:net';
import pg from 'pg';
import { cloningIn, dropOnExit, forget, type ServerConnections } from './exit-cleanup.js';
import type { Naming } from './test-database-names.js';
import { cloneDatabaseSql, renameDatabaseSql, SPARE_SESSIONS_SQL } from './test-database.sql.js';

/*
 * Spares: a clone costs what copying the template's files costs (about a millisecond per table,
 * index and TOAST table with fsync on), far more than the milliseconds a test file should wait.
 * So each process keeps one clone of the template made ahead, in the background, while its tests
 * run; the next call (the next test file of this Jest worker, or of another) renames it into its
 * own test database, which only touches the catalog. Claims happen under the template lock, so two
 * callers never claim one spare. A spare nobody claimed is dropped at exit like a test database.
 */

/**
 * Renames a ready spare of this template (this process's first) into `name`. Returns the spare's
 * name, or undefined if none could be claimed: the caller then clones.
 */
export async function claimSpare(
  admin: pg.Client,
  naming: Naming,
  existing: Iterable<string>,
  name: string,
): Promise<string | undefined> {
  const spares = [...existing].filter((database) => naming.isSpare(database));
  spares.sort((a, b) => Number(naming.isSpare(b, 'ours')) - Number(naming.isSpare(a, 'ours')));
  for (const spare of spares) {
    try {
      await admin.query(renameDatabaseSql(spare, name));
      forget(spare);
      return spare;
    } catch {
      // Dropped by a newer template's build, or someone connected to it: try the next, or clone.
    }
  }
  return undefined;
}

/**
 * Starts cloning a spare in the background unless this process already has one, ready (in
 * `existing`, other than the one just claimed) or on its way (a session with its application_name).
 */
export async function prepareSpare(
  admin: pg.Client,
  server: ServerConnections,
  naming: Naming,
  existing: Iterable<string>,
  claimed: string | undefined,
): Promise<void> {
  const ready = [...existing].some(
    (database) => database !== claimed && naming.isSpare(database, 'ours'),
  );
  if (ready) return;
  const { rows } = await admin.query<{ n: number }>(SPARE_SESSIONS_SQL, [naming.spareSessions]);
  if (rows[0].n > 0) return;
  void cloneSpare(server, naming);
}

async function cloneSpare(server: ServerConnections, naming: Naming): Promise<void> {
  const name = naming.newSpare();
  dropOnExit(server, name);
  const client = new pg.Client({ ...server[0], application_name: naming.spareSessions });
  client.on('error', () => undefined);
  try {
    await client.connect();
    // A spare must not keep the process alive: at exit the clone is ended and dropped instead.
    (client.connection.stream as Partial<Socket>).unref?.();
    cloningIn(name, (client as unknown as { processID?: number }).processID);
    await client.query(cloneDatabaseSql(name, naming.template));
    cloningIn(name, undefined);
  } catch {
    // Only a head start: without a spare the next call clones. Nothing was made.
    forget(name);
  } finally {
    await client.end().catch(() => undefined);
  }
}
