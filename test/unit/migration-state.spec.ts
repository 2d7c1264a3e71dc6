import { MigrationStateTracker } from '../../src/migration-runner/migration-events.js';

/*
 * The state an app reads (health indicator, `state`) while a run applies migrations one by one:
 * the list is kept as it grows and copied when read, so each read is a snapshot of its own.
 */
describe('MigrationStateTracker', () => {
  it('shows what the running run applied so far; a state read earlier does not change', () => {
    const tracker = new MigrationStateTracker(undefined);
    tracker.update('waiting');
    tracker.update('migrating', { waitedMs: 3 });
    tracker.migrationApplied('First1700000000001');
    const early = tracker.state;
    tracker.migrationApplied('Second1700000000002');
    expect(early).toMatchObject({ phase: 'migrating', applied: ['First1700000000001'] });
    expect(tracker.state).toMatchObject({
      phase: 'migrating',
      waitedMs: 3,
      applied: ['First1700000000001', 'Second1700000000002'],
    });
    expect(tracker.state).toBe(tracker.state);
  });

  it("keeps a failed run's applied list, and starts the next run's list afresh", () => {
    const tracker = new MigrationStateTracker(undefined);
    tracker.update('waiting');
    tracker.migrationApplied('First1700000000001');
    tracker.update('failed', { error: 'boom' });
    expect(tracker.state).toMatchObject({ phase: 'failed', applied: ['First1700000000001'] });
    tracker.update('waiting');
    tracker.migrationApplied('Second1700000000002');
    expect(tracker.state.applied).toEqual(['Second1700000000002']);
    tracker.update('done', { outcome: 'applied', applied: ['Second1700000000002'] });
    expect(tracker.state).toMatchObject({ phase: 'done', applied: ['Second1700000000002'] });
  });
});
