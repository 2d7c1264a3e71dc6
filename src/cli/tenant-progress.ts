import type { TenantsProgress } from '../tenants/tenants.options.js';

const TTY_REDRAW_MS = 100;
const PLAIN_TICK_MS = 5000;

/**
 * `migration-lock tenants run` tells an operator how far it is: on a terminal a live line redrawn
 * as tenants finish, otherwise (CI and container logs) a plain line every 5 s; nothing with --json
 * (the caller does not create one then).
 */
export class TenantProgress {
  private latest: TenantsProgress | undefined;
  private timer: NodeJS.Timeout | undefined;
  private drawnAt = 0;
  private drawn = false;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {
    if (!out.isTTY) {
      this.timer = setInterval(() => this.latest && this.write(this.latest), PLAIN_TICK_MS);
      this.timer.unref();
    }
  }

  /** After every tenant this replica finished with. */
  readonly update = (progress: TenantsProgress): void => {
    this.latest = progress;
    if (!this.out.isTTY) return;
    const now = performance.now();
    if (now - this.drawnAt < TTY_REDRAW_MS && progress.done < progress.total) return;
    this.drawnAt = now;
    this.write(progress);
  };

  /** The live line goes before the result is printed. */
  stop(): void {
    clearInterval(this.timer);
    if (this.drawn) this.out.write('\r\x1b[2K');
    this.drawn = false;
  }

  private write(progress: TenantsProgress): void {
    if (this.out.isTTY) {
      this.out.write(`\r\x1b[2K${progressLine(progress)}`);
      this.drawn = true;
    } else {
      this.out.write(`${progressLine(progress)}\n`);
    }
  }
}

/** `tenants 120/1000, 1 failed, 35.2/s, ETA 25 s`. */
export function progressLine({ total, done, failed, elapsedMs }: TenantsProgress): string {
  const rate = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  const eta = rate > 0 ? `ETA ${Math.ceil((total - done) / rate)} s` : 'ETA unknown';
  return `tenants ${done}/${total}, ${failed} failed, ${rate.toFixed(1)}/s, ${eta}`;
}
