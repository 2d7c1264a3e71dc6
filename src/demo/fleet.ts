import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ParentMessage, ReplicaMessage, ReplicaMode } from './replica-protocol.js';

const REPLICA_ENTRY = fileURLToPath(new URL('./replica.js', import.meta.url));

/** What one replica of a fleet did, as seen by the parent. */
export interface ReplicaReport {
  readonly index: number;
  readonly pid: number;
  readonly status: 'ready' | 'failed';
  readonly outcome?: 'applied' | 'followed';
  readonly applied: readonly string[];
  readonly waitedMs?: number;
  /** ms from the common start signal until the replica listened (or failed). */
  readonly atMs: number;
  readonly error?: string;
  readonly port?: number;
}

export interface Fleet {
  readonly reports: readonly ReplicaReport[];
  stop(): Promise<void>;
}

/**
 * Forks `replicas` reference-service processes, waits until every one has loaded its code, then
 * tells them all to start at the same instant and collects what each reports.
 */
export async function runFleet(options: {
  replicas: number;
  databaseUrl: string;
  mode: ReplicaMode;
}): Promise<Fleet> {
  const children = Array.from({ length: options.replicas }, () => {
    const child = fork(REPLICA_ENTRY, [], {
      env: { ...process.env, DATABASE_URL: options.databaseUrl, REPLICA_MODE: options.mode },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    keepStderrTail(child);
    return child;
  });
  await Promise.all(children.map((child) => nextMessage(child)));
  const goAt = performance.now();
  const reports = await Promise.all(
    children.map(async (child, index) => {
      const message = nextMessage(child);
      send(child, { type: 'go' });
      return toReport(index, child, await message, Math.round(performance.now() - goAt));
    }),
  );
  return { reports, stop: () => stopAll(children) };
}

function toReport(
  index: number,
  child: ChildProcess,
  message: ReplicaMessage,
  atMs: number,
): ReplicaReport {
  const base = { index, pid: child.pid ?? 0, atMs };
  if (message.type === 'ready') {
    return {
      ...base,
      status: 'ready',
      outcome: message.outcome,
      applied: message.applied,
      waitedMs: message.waitedMs,
      port: message.port,
    };
  }
  const error = message.type === 'failed' ? message.error : `unexpected message ${message.type}`;
  return { ...base, status: 'failed', applied: [], error };
}

/** The next IPC message, or a `failed` message when the process exits first. */
const stderrTails = new WeakMap<ChildProcess, string>();

function keepStderrTail(child: ChildProcess): void {
  child.stderr?.on('data', (chunk: Buffer) =>
    stderrTails.set(child, ((stderrTails.get(child) ?? '') + chunk.toString()).slice(-2000)),
  );
}

function nextMessage(child: ChildProcess): Promise<ReplicaMessage> {
  return new Promise((resolve) => {
    const onExit = (code: number | null) => {
      const lastLine = (stderrTails.get(child) ?? '').trim().split('\n').at(-1) ?? '';
      resolve({ type: 'failed', error: `exited with code ${code} before reporting: ${lastLine}` });
    };
    child.once('exit', onExit);
    child.once('message', (message: ReplicaMessage) => {
      child.removeListener('exit', onExit);
      resolve(message);
    });
  });
}

function send(child: ChildProcess, message: ParentMessage): void {
  if (child.connected) child.send(message);
}

async function stopAll(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          send(child, { type: 'stop' });
        }),
    ),
  );
}
