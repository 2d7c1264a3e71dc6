/** Who holds (or waits for) an advisory lock, as read from pg_locks ⋈ pg_stat_activity. */
export interface LockHolder {
  /** Backend process id of the holder's connection (`pg_terminate_backend(pid)` frees the lock). */
  readonly pid: number;
  /** `application_name` of the holder's connection; empty when it set none. */
  readonly applicationName: string;
  /** Client address, or null for a Unix-socket connection. */
  readonly clientAddress: string | null;
  /** pg_stat_activity.state, e.g. `active` or `idle in transaction`. */
  readonly state: string | null;
  /** How long the holder's transaction (or session, when none) has been open, in ms. */
  readonly heldMs: number;
}

/** A one-line description of a holder for error messages and logs. */
export function describeHolder(holder: LockHolder): string {
  const app = holder.applicationName ? `${holder.applicationName}` : 'no application_name';
  const where = holder.clientAddress ?? 'local socket';
  return `pid ${holder.pid} (${app} on ${where}, ${holder.state ?? 'unknown state'}, held for ${holder.heldMs} ms)`;
}
