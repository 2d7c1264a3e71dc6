import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  replicaEnv,
  type ParentMessage,
  type ReplicaConfig,
  type ReplicaMessage,
} from './replica-protocol.js';

/** What one replica did, as seen by the parent. */
export interface ReplicaReport {
  readonly index: number;
  readonly pid: number;
  readonly status: 'ready' | 'failed';
  readonly outcome?: 'applied' | 'followed';
  readonly applied: readonly string[];
  readonly waitedMs?: number;
  /** How long this replica held the lock, in ms (0 when it did not take it). */
  readonly heldMs?: number;
  /** ms from the common start signal until the replica listened (or failed). */
  readonly atMs: number;
  /** ms from the common start signal until its migration phase ended (ready replicas). */
  readonly migratedMs?: number;
  /** CPU ms the replica spent from the release to ready (benchmarks: where its time goes). */
  readonly cpuMs?: number;
  readonly error?: string;
  /** Stable error code (e.g. LOCK_LOST, MIGRATION_FAILED) when the replica failed with one. */
  readonly code?: string;
  readonly port?: number;
}

/** The compiled replica entry, also when this module runs from the TypeScript sources (tests). */
function replicaEntry(): string {
  const beside = fileURLToPath(new URL('./replica.js', import.meta.url));
  return existsSync(beside)
    ? beside
    : beside.replace(/([/\\])reference([/\\]demo[/\\])/, '$1build$1reference$2');
}

/** One forked reference-service replica: load, wait for `go`, report ready or failed. */
export class ReplicaProcess {
  private stderrTail = '';
  readonly loaded: Promise<ReplicaMessage>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly index: number,
    private readonly child: ChildProcess,
  ) {
    child.stderr?.on(
      'data',
      (chunk: Buffer) => (this.stderrTail = (this.stderrTail + chunk.toString()).slice(-2000)),
    );
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    this.loaded = this.nextMessage();
  }

  /** `entry` defaults to the reference-service replica; benchmarks pass peers speaking the same protocol. */
  static spawn(index: number, config: ReplicaConfig, entry = replicaEntry()): ReplicaProcess {
    const child = fork(entry, [], {
      env: { ...process.env, ...replicaEnv(config) },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    return new ReplicaProcess(index, child);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** Starts the replica's bootstrap; resolves with its report, `atMs` counted from `since`. */
  async go(since: number): Promise<ReplicaReport> {
    const message = this.nextMessage();
    const goAt = performance.timeOrigin + since;
    this.send({ type: 'go' });
    return this.toReport(await message, Math.round(performance.now() - since), goAt);
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Closes the app (shutdown hooks) and waits for the process to end. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.send({ type: 'stop' });
    await this.exited;
  }

  private send(message: ParentMessage): void {
    // A replica may exit between the check and the write (a failed start exits at once): the
    // write then fails with EPIPE, which is no news: its exit is already being reported.
    if (this.child.connected) this.child.send(message, (error) => void error);
  }

  /** The next IPC message, or a `failed` message when the process exits first. */
  private nextMessage(): Promise<ReplicaMessage> {
    return new Promise((resolve) => {
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        const lastLine = this.stderrTail.trim().split('\n').at(-1) ?? '';
        resolve({
          type: 'failed',
          error: `exited (${signal ?? `code ${code}`}) before reporting${lastLine ? `: ${lastLine}` : ''}`,
        });
      };
      this.child.once('exit', onExit);
      this.child.once('message', (message: ReplicaMessage) => {
        this.child.removeListener('exit', onExit);
        resolve(message);
      });
    });
  }

  private toReport(message: ReplicaMessage, atMs: number, goAt: number): ReplicaReport {
    const base = { index: this.index, pid: this.pid, atMs };
    if (message.type === 'ready') {
      const { outcome, applied, waitedMs, heldMs, port, migratedAt, cpuMs } = message;
      const migratedMs = Math.max(0, migratedAt - goAt);
      const ready = {
        status: 'ready',
        outcome,
        applied,
        waitedMs,
        heldMs,
        port,
        migratedMs,
      } as const;
      return { ...base, ...ready, cpuMs };
    }
    if (message.type === 'failed')
      return { ...base, status: 'failed', applied: [], error: message.error, code: message.code };
    return { ...base, status: 'failed', applied: [], error: `unexpected message ${message.type}` };
  }
}
