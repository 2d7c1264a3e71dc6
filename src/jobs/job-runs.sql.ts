import { tableIdentifier } from '../connection/sql-literal.js';

/*
 * The table where `oncePer` jobs record each period's run: one row per job and period, written in
 * the job's own transaction, so the record commits (or rolls back) with what the job wrote.
 * The table name is checked (letters, digits, _, one optional schema) before it gets here.
 */

/** Made on first use; under its own advisory lock, since two replicas' CREATEs can collide. */
export function createJobRunsTableSql(table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${tableIdentifier(table)} (
  job_id text NOT NULL,
  job_type text NOT NULL,
  period_ms int8 NOT NULL,
  period_start timestamptz NOT NULL,
  ran_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  ran_by text NOT NULL DEFAULT pg_catalog.current_setting('application_name'),
  PRIMARY KEY (job_id, job_type, period_ms, period_start)
)`;
}

/**
 * Claims the current period for a job: returns a row when this run is the period's first, none
 * when a run of this period has committed already. The period is the server's clock (one clock
 * for every replica) cut to whole multiples of the period since the epoch, in UTC: a calendar
 * minute, hour or day for 60000, 3600000 and 86400000. Older rows of the job go in the same
 * statement, so the table keeps one row per job.
 * Parameters: $1 job id, $2 job type, $3 period in ms.
 */
export function claimJobPeriodSql(table: string): string {
  const t = tableIdentifier(table);
  return `WITH claimed AS (
  INSERT INTO ${t} (job_id, job_type, period_ms, period_start)
  VALUES ($1, $2, $3::int8,
          pg_catalog.to_timestamp(pg_catalog.floor(extract(epoch FROM pg_catalog.clock_timestamp()) * 1000 / $3::int8) * $3::int8 / 1000.0))
  ON CONFLICT DO NOTHING
  RETURNING period_start
), pruned AS (
  DELETE FROM ${t} o USING claimed c
   WHERE o.job_id = $1 AND o.job_type = $2 AND o.period_ms = $3::int8 AND o.period_start < c.period_start
)
SELECT period_start FROM claimed`;
}
