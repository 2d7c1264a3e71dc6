import pg from 'pg';
import { DataSource } from 'typeorm';
import { AdvisoryLockService } from '../src/lock/advisory-lock.service.js';
import { advisoryLockKey } from '../src/lock/lock-key.js';
import {
  WAITER_APPLICATION_NAME,
  type HandoffForm,
  type HandoffReply,
  type HandoffRequest,
} from './handoff-protocol.js';

/*
 * The waiting side of the hand-off bench (see handoff-protocol.ts): waits for the lock in the form
 * it is told, notes the instant the lock is granted, lets it go, and reports that instant.
 */
const [ID, TYPE] = (process.env.HANDOFF_LOCK ?? 'bench/Latency').split('/');
const KEY = advisoryLockKey(ID, TYPE);
const send = (reply: HandoffReply) => process.send?.(reply);

const dataSource = await new DataSource({
  type: 'postgres',
  url: process.env.DATABASE_URL,
  poolSize: 2,
}).initialize();
const locks = new AdvisoryLockService(dataSource, { applicationName: WAITER_APPLICATION_NAME });
const raw = new pg.Client({
  connectionString: process.env.DATABASE_URL,
  application_name: WAITER_APPLICATION_NAME,
});
raw.on('error', () => undefined);
await raw.connect();

async function waitOnce(form: HandoffForm): Promise<bigint> {
  let bodyStarted = 0n;
  const body = async () => void (bodyStarted = process.hrtime.bigint());
  if (form === 'module-xact') await locks.withLock(ID, TYPE, body);
  else if (form === 'module-session') await locks.withSessionLock(ID, TYPE, body);
  else {
    const lock = form === 'raw-xact' ? 'pg_advisory_xact_lock' : 'pg_advisory_lock';
    if (form === 'raw-xact') await raw.query('BEGIN');
    await raw.query(`SELECT ${lock}($1::int4, $2::int4)`, [...KEY]);
    bodyStarted = process.hrtime.bigint();
    if (form === 'raw-xact') await raw.query('COMMIT');
    else await raw.query('SELECT pg_advisory_unlock($1::int4, $2::int4)', [...KEY]);
  }
  return bodyStarted;
}

process.on('disconnect', () => process.exit(0));
process.on('message', (request: HandoffRequest) => {
  if (request.type === 'stop') {
    void Promise.all([raw.end(), dataSource.destroy()]).finally(() => process.exit(0));
    return;
  }
  waitOnce(request.form).then(
    (at) => send({ type: 'sample', bodyStartedNs: String(at) }),
    (error: unknown) => send({ type: 'failed', error: (error as Error).message }),
  );
});
send({ type: 'ready' });
