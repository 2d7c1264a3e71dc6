import type { DataSource } from 'typeorm';
import { WaitProgress } from '../../src/cli/wait-progress.js';
import type { WaitOutcome } from '../../src/migration-runner/migration-events.js';

/** A terminal as the CLI sees stderr: isTTY, and what was written to it. */
function terminal(): { out: NodeJS.WriteStream; written: string[] } {
  const written: string[] = [];
  const out = { isTTY: true, write: (text: string) => written.push(text) > 0 };
  return { out: out as unknown as NodeJS.WriteStream, written };
}

/** A DataSource whose status read fails: the live line then says the holder is not visible. */
const noStatus = { query: () => Promise.reject(new Error('no server')) } as unknown as DataSource;

/** Draws the live line once, as the 1 s tick does. */
async function drawLine(progress: WaitProgress): Promise<void> {
  await (progress as unknown as { tick(): Promise<void> }).tick();
}

const CLEAR_LINE = '\r\x1b[2K';

describe('WaitProgress on a terminal', () => {
  it.each<WaitOutcome>(['acquired', 'followed', 'timeout', 'aborted', 'lost', 'failed'])(
    'a wait that ends %s clears the live line before anything else is written',
    async (outcome) => {
      const { out, written } = terminal();
      const progress = new WaitProgress(noStatus, { id: 'migrations', type: 'Migrations' }, out);
      progress.waitStarted();
      await drawLine(progress);
      expect(written.join('')).toContain('waiting for migration lock');
      const drawn = written.length;
      progress.waitEnded({ waitedMs: 5_000, outcome });
      expect(written[drawn]).toBe(CLEAR_LINE);
      // A tick already under way when the wait ended draws nothing more.
      await drawLine(progress);
      expect(written.slice(drawn).join('')).not.toContain('waiting for migration lock');
    },
  );

  it('says how a long wait ended when this replica holds the lock or followed its holder', () => {
    const { out, written } = terminal();
    const progress = new WaitProgress(noStatus, { id: 'migrations', type: 'Migrations' }, out);
    progress.waitStarted();
    progress.waitEnded({ waitedMs: 5_000, outcome: 'followed' });
    expect(written.join('')).toBe('the holder applied everything; followed after 5 s\n');
  });
});
