/**
 * A session holding or waiting for an advisory lock, as pg_locks ⋈ pg_stat_activity show it: what
 * `migration-lock status` lists, what the wait progress names, and the holder a LockTimeoutError
 * names. It sits beside the errors because they describe it, and everything else is above them.
 */
export interface LockSession {
  /** Backend process id (`pg_terminate_backend(pid)` frees what it holds). */
  readonly pid: number;
  /** `application_name` of the session; empty when it set none. */
  readonly applicationName: string;
  /** Client address, or null for a Unix-socket connection. */
  readonly clientAddress: string | null;
  /** pg_stat_activity.state, e.g. `active` or `idle in transaction`. */
  readonly state: string | null;
  /** Holders: how long their transaction (or session, when none) has been open, in ms. */
  readonly heldMs: number | null;
  /** Waiters in a lock statement: how long they have waited; session-mode waiters poll: null. */
  readonly waitingMs: number | null;
  /** The statement the session runs or ran last. */
  readonly query: string | null;
}

/** The one way a session is described: `pid 42 (api-7f9c on 10.0.0.7, active, held for 1.2 s)`. */
export function describeSession(session: LockSession): string {
  const app = session.applicationName || 'no application_name';
  const where = session.clientAddress ?? 'local socket';
  const time =
    session.heldMs !== null
      ? `held for ${duration(session.heldMs)}`
      : session.waitingMs !== null
        ? `waiting for ${duration(session.waitingMs)}`
        : 'polling';
  return `pid ${session.pid} (${app} on ${where}, ${session.state ?? 'unknown state'}, ${time})`;
}

function duration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
