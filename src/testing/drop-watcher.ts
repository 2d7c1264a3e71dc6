/*
 * The watcher process of exit-cleanup.ts. It runs as `node -e "(<this function's source>)(…)"`: a
 * package with two builds (ESM and CommonJS) has no file path both can name, and under ts-jest
 * there is no compiled file at all, while a function's source is there in every one of them. So
 * the function must stand alone: it uses only its parameters and globals, never an import of this
 * file (the type imports below are erased).
 */
import type pg from 'pg';

/** What the process that made the databases sends, one JSON line each: drop these, or forget. */
interface Update {
  readonly name: string;
  /** Ways to reach the server, tried in order (the options' database, then `postgres`). */
  readonly connections?: readonly pg.ClientConfig[];
  /** undefined: the database was dropped or renamed, nothing to do. */
  readonly statements?: ReadonlyArray<[sql: string, params: unknown[]]>;
  /** A finished spare: kept for the next test file's process while the test runner runs. */
  readonly handOver?: boolean;
}

/**
 * Reads updates on stdin; when stdin ends (the process that made the databases is gone, however
 * it ended), drops what is left, and the handed-over spares once the test runner `runnerPid` has
 * ended too (at most `handOverMs` later). `load` is the CommonJS `require` of `node -e`: pg is
 * resolved from the app (a peer of this package).
 */
export function dropWatcher(load: NodeJS.Require, runnerPid: number, handOverMs: number): void {
  const { Client } = load(load.resolve('pg', { paths: [process.cwd()] })) as typeof pg;
  const pending = new Map<string, Update>();
  let input = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    input += chunk;
    let end;
    while ((end = input.indexOf('\n')) >= 0) {
      const update = JSON.parse(input.slice(0, end)) as Update;
      input = input.slice(end + 1);
      if (update.statements) pending.set(update.name, update);
      else pending.delete(update.name);
    }
  });
  // A connection failure (no SQLSTATE, or class 08 / 57P) moves on to the next way in; any other
  // error is the statement's own (nothing to drop) and is not retried.
  const lost = (error: { code?: string }) => !error.code || /^(08|57P)/.test(error.code);
  const running = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      return (error as { code?: string }).code === 'EPERM';
    }
  };
  // No event tells one process that another, not its child, has ended: its pid is polled.
  const runnerEnded = (deadline: number) =>
    new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (running(runnerPid) && Date.now() < deadline) return;
        clearInterval(poll);
        resolve();
      }, 100);
    });
  const drop = async (updates: Update[]) => {
    for (const { connections = [], statements = [] } of updates) {
      for (const config of connections) {
        const client = new Client({ connectionTimeoutMillis: 10_000, ...config });
        client.on('error', () => undefined);
        try {
          await client.connect();
          for (const [sql, params] of statements) {
            await client.query(sql, params).catch((error: { code?: string }) => {
              if (lost(error)) throw error;
            });
          }
          break;
        } catch {
          // This way in failed: the next one.
        } finally {
          await client.end().catch(() => undefined);
        }
      }
    }
  };
  process.stdin.on('end', async () => {
    // Bounded: a server that does not answer, or a drop stuck behind a lock, ends it all the same.
    setTimeout(() => process.exit(0), handOverMs + 60_000).unref();
    const updates = [...pending.values()];
    await drop(updates.filter((update) => !update.handOver));
    const handedOver = updates.filter((update) => update.handOver);
    if (handedOver.length === 0) return;
    await runnerEnded(Date.now() + handOverMs);
    await drop(handedOver);
  });
}
