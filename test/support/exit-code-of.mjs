// The version scripts run a whole `npm` job per version and count its outcome rather than stop at
// the first failure, so they need the exit code, not a rejection.
import { spawn } from 'node:child_process';

/** Runs `command` with the terminal as its output; resolves to its exit code (1 if killed). */
export function exitCodeOf(command, args, options) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'inherit', ...options });
    child.on('error', () => resolve(1));
    child.on('close', (code) => resolve(code ?? 1));
  });
}
