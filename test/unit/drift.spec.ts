import { FAILING_KINDS, findDrift, type CodeMigration } from '../../src/history/drift.js';

/** A migration in the code whose capture gave `checksum` (or could not be made). */
const code = (name: string, timestamp: number, checksum: string | null): CodeMigration => ({
  name,
  timestamp,
  capture:
    checksum === null
      ? { verifiable: false, reason: 'needs rows', sent: [] }
      : { verifiable: true, statements: [], sent: [], checksum },
});

describe('findDrift', () => {
  it('finds nothing when the code and the history agree, pending migrations newer than every applied one', () => {
    expect(
      findDrift(
        [{ name: 'A1', timestamp: 1, recorded: { checksum: 'a' } }],
        [code('A1', 1, 'a'), code('B2', 2, 'b')],
      ),
    ).toEqual([]);
  });

  it('names each kind: changed, missing, out of order, unrecorded, unverifiable', () => {
    const findings = findDrift(
      [
        { name: 'A1', timestamp: 1, recorded: { checksum: 'a' } },
        { name: 'Gone2', timestamp: 2, recorded: { checksum: 'g' } },
        { name: 'Old3', timestamp: 3 },
        { name: 'Reads4', timestamp: 4, recorded: { checksum: 'r' } },
        { name: 'Never5', timestamp: 5, recorded: { checksum: null } },
        { name: 'New9', timestamp: 9, recorded: { checksum: 'n' } },
      ],
      [
        code('A1', 1, 'a-edited'),
        code('Old3', 3, 'o'),
        code('Reads4', 4, null),
        code('Never5', 5, 'v'),
        code('Branch6', 6, 'x'),
        code('New9', 9, 'n'),
        code('Later10', 10, 'l'),
      ],
    );
    expect(findings).toEqual([
      { kind: 'changed', name: 'A1', recorded: 'a', current: 'a-edited' },
      { kind: 'missing', name: 'Gone2' },
      { kind: 'unrecorded', name: 'Old3' },
      { kind: 'unverifiable', name: 'Reads4', reason: 'needs rows' },
      { kind: 'unverifiable', name: 'Never5', reason: expect.stringContaining('captured') },
      { kind: 'outOfOrder', name: 'Branch6', newestApplied: 'New9' },
    ]);
    expect(findings.filter((f) => FAILING_KINDS.has(f.kind)).map((f) => f.kind)).toEqual([
      'changed',
      'missing',
      'outOfOrder',
    ]);
  });

  it('finds no order to break on a database with nothing applied', () => {
    expect(findDrift([], [code('B2', 2, 'b'), code('A1', 1, 'a')])).toEqual([]);
  });
});
