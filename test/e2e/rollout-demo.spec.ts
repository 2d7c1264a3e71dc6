import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const DEMO = 'build/reference/demo/rollout-demo.js';

/** The README's main job, as a user runs it (built by `npm test`'s pretest), against the run's server. */
async function demo(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, DATABASE_URL: process.env.MIGRATION_LOCK_TEST_ADMIN_URL };
  try {
    const { stdout, stderr } = await run(process.execPath, [DEMO, ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('npm run demo (the rollout demo as a process)', () => {
  it('starts replicas together: one applies, the rest follow, every migration once', async () => {
    const { code, stdout } = await demo('--replicas', '4');
    expect(code).toBe(0);
    const rows = stdout.split('\n').filter((line) => /^r\d+\s/.test(line));
    expect(rows).toHaveLength(4);
    expect(rows.filter((row) => /applied 4/.test(row))).toHaveLength(1);
    expect(rows.filter((row) => /followed/.test(row))).toHaveLength(3);
    expect(stdout).toMatch(/backfill effect \(seed cluster generation\)\s+1\s+ok/);
    expect(stdout).toContain('OK: every migration ran exactly once');
    expect(stdout).not.toMatch(/postgres:\/\/|password/i);
  });

  it('--no-lock runs the same fleet with plain TypeORM runMigrations and reports what it sees', async () => {
    // Whether this race shows depends on timing; test/e2e/fleet-faults.spec.ts forces it with a gate.
    const { code, stdout } = await demo('--replicas', '3', '--no-lock');
    expect(stdout).toContain('plain TypeORM runMigrations and NO lock');
    expect([0, 1]).toContain(code);
    expect(stdout).toMatch(code === 0 ? /OK: every migration ran exactly once/ : /FAILED/);
  });

  it('rejects bad usage with exit 2', async () => {
    const { code, stderr } = await demo('--replicas', 'many');
    expect(code).toBe(2);
    expect(stderr).toContain('--replicas must be 1 to 64');
  });
});
