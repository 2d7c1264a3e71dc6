import { progressLine, TenantProgress } from '../../src/cli/tenant-progress.js';

describe('tenants run progress', () => {
  it('says done / total, failed, rate and ETA', () => {
    expect(progressLine({ total: 1000, done: 250, failed: 2, elapsedMs: 5000 })).toBe(
      'tenants 250/1000, 2 failed, 50.0/s, ETA 15 s',
    );
    expect(progressLine({ total: 10, done: 0, failed: 0, elapsedMs: 0 })).toBe(
      'tenants 0/10, 0 failed, 0.0/s, ETA unknown',
    );
  });

  it('redraws one line on a terminal and clears it at the end', () => {
    const written: string[] = [];
    const out = { isTTY: true, write: (text: string) => written.push(text) };
    const progress = new TenantProgress(out as unknown as NodeJS.WriteStream);
    progress.update({ total: 2, done: 1, failed: 0, elapsedMs: 10 });
    progress.update({ total: 2, done: 2, failed: 0, elapsedMs: 20 });
    progress.stop();
    expect(written).toEqual([
      '\r\x1b[2Ktenants 1/2, 0 failed, 100.0/s, ETA 1 s',
      '\r\x1b[2Ktenants 2/2, 0 failed, 100.0/s, ETA 0 s',
      '\r\x1b[2K',
    ]);
  });
});
