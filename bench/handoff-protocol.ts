/**
 * The hand-off bench's waiter runs in its own process, as a waiting replica does: the holder's
 * clean-up after its COMMIT (returning the connection, resolving its caller) then cannot delay the
 * waiter's event loop, which it would if both shared one process. Times are process.hrtime.bigint()
 * (the system's monotonic clock), comparable across processes on one machine.
 */
export type HandoffForm = 'module-xact' | 'module-session' | 'raw-xact' | 'raw-session';

export type HandoffRequest = { type: 'wait'; form: HandoffForm } | { type: 'stop' };

export type HandoffReply =
  | { type: 'ready' }
  /** `bodyStartedNs`: when the waiter got the lock (the body started), as a decimal string. */
  | { type: 'sample'; bodyStartedNs: string }
  | { type: 'failed'; error: string };

/** application_name of the waiter's connections, how the holder side finds it waiting. */
export const WAITER_APPLICATION_NAME = 'bench-waiter';
