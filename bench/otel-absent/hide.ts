import { register } from 'node:module';
import { fileURLToPath } from 'node:url';

const REGISTER = fileURLToPath(new URL('./register.js', import.meta.url));
const original = process.env.NODE_OPTIONS;

/**
 * Hides @opentelemetry/api from this process and every process it starts (through NODE_OPTIONS):
 * the figures are measured as most users run the package, without it. The package looks for the
 * API only when first used, so hiding it at the start of a run is early enough.
 */
export function hideOpenTelemetry(): void {
  register('./resolve-hooks.js', import.meta.url);
  process.env.NODE_OPTIONS = `${original ?? ''} --import "${REGISTER}"`.trim();
}

/** NODE_OPTIONS as they were before hideOpenTelemetry(): for a process that must see the API. */
export const nodeOptionsSeeingOtel = (): string => original ?? '';

export const HIDE_OTEL_REGISTER = REGISTER;
