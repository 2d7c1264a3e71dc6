import type { Socket } from 'node:net';
import { MAX_TIMER_MS } from '../connection/connection-loss.js';
import pg from 'pg';
import { advisoryLockKey } from '../lock/lock-key.js';
import {
  cloningIn,
  dropOnExit,
  forget,
  spareMade,
  type ServerConnections,
} from './exit-cleanup.js';
import { namespaceDatabases } from './namespace-databases.js';
import type { Naming } from './test-database-names.js';
import { SESSION_LOCK_SQL, SESSION_UNLOCK_SQL } from '../lock/session-lock.sql.js';
import { cloneDatabaseSql, renameDatabaseSql } from './test-database.sql.js';

/*
 * Spares: a clone costs what copying the template's files costs (about a millisecond per table,
 * index and TOAST table with fsync on), far more than the milliseconds a test file should wait.
 * So each process keeps one clone of the template made ahead, in the background, while its tests
 * run; the next call (the next test file of this Jest worker, or of another) renames it into its
 * own test database, which only touches the catalog. Claims happen under the template lock, so two
 * callers never claim one spare. A spare nobody claimed is handed over at exit, for the next test
 * file's process (exit-cleanup.ts), and dropped unless claimed; so is a finished spare whose
 * process was killed with its watcher: any process's finished spare of this template may be claimed.
 *
 * A process's spare clones hold its spare lock while they clone: one at a time, and a call that
 * finds no spare ready waits for the one on its way (a clone half done) rather than cloning beside
 * it, which would cost the server the same copy twice.
 */
const SPARE_LOCK_TYPE = 'TestSpare';
const spareLock = (naming: Naming) => advisoryLockKey(naming.spareSessions, SPARE_LOCK_TYPE);

/**
 * This module's spare clones that do not hold the spare lock yet (still connecting, or behind the
 * clone before): a call that came meanwhile would find the lock free and clone beside them. Per
 * module instance, so per Jest test file: a call from the next file comes after this file's tests
 * ran, long after.
 */
const starting = new Set<Promise<void>>();

/** Until every spare clone started so far holds the spare lock (or has ended), at most `ms`. */
async function clonesStarted(ms: number): Promise<void> {
  if (!starting.size) return;
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms || MAX_TIMER_MS);
  });
  try {
    await Promise.race([Promise.all(starting), bound]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Renames a ready spare of this template (this process's first) into `name`, after waiting for
 * this process's spare on its way if none is ready (at most `timeoutMs` for it to start, and the
 * admin's lock_timeout for it to finish). Returns the spare's name, or undefined if none could be
 * claimed: the caller then clones.
 */
export async function claimSpare(
  admin: pg.Client,
  naming: Naming,
  existing: Iterable<string>,
  name: string,
  timeoutMs: number,
): Promise<string | undefined> {
  const ready = await claimReady(admin, naming, existing, name);
  if (ready) return ready;
  await clonesStarted(timeoutMs);
  try {
    // Free at once unless a clone of this process is on its way; bounded by the admin's lock_timeout.
    await admin.query(SESSION_LOCK_SQL, [...spareLock(naming)]);
    await admin.query(SESSION_UNLOCK_SQL, [...spareLock(naming)]);
  } catch {
    return undefined;
  }
  return claimReady(
    admin,
    naming,
    (await namespaceDatabases(admin, naming.namespace)).keys(),
    name,
  );
}

async function claimReady(
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
 * Starts cloning a spare in the background unless this process has one ready (in `existing`, other
 * than the one just claimed). One on its way already is found by the clone itself, under the lock.
 */
export function prepareSpare(
  server: ServerConnections,
  naming: Naming,
  existing: Iterable<string>,
  claimed: string | undefined,
): void {
  const ready = [...existing].some(
    (database) => database !== claimed && naming.isSpare(database, 'ours'),
  );
  if (!ready) void cloneSpare(server, naming);
}

async function cloneSpare(server: ServerConnections, naming: Naming): Promise<void> {
  const name = naming.newSpare();
  dropOnExit(server, name);
  const client = new pg.Client({ ...server[0], application_name: naming.spareSessions });
  client.on('error', () => undefined);
  let held!: () => void;
  const holding = new Promise<void>((resolve) => {
    held = () => {
      starting.delete(holding);
      resolve();
    };
  });
  starting.add(holding);
  let made = false;
  try {
    await client.connect();
    // A spare must not keep the process alive: at exit the clone is ended and dropped instead.
    (client.connection.stream as Partial<Socket>).unref?.();
    cloningIn(name, (client as unknown as { processID?: number }).processID);
    await client.query(SESSION_LOCK_SQL, [...spareLock(naming)]);
    held();
    // The clone before this one may have made the spare this one was for.
    const databases = await namespaceDatabases(client, naming.namespace);
    if ([...databases.keys()].some((database) => naming.isSpare(database, 'ours'))) {
      forget(name);
      return;
    }
    await client.query(cloneDatabaseSql(name, naming.template));
    made = true;
    spareMade(name);
    // Released before the session ends, so the next clone or a waiting call goes on at once.
    await client.query(SESSION_UNLOCK_SQL, [...spareLock(naming)]);
  } catch {
    // Only a head start: without a spare the next call clones. A spare made stays for it.
    if (!made) forget(name);
  } finally {
    held();
    await client.end().catch(() => undefined);
  }
}
