/*
 * Module resolution hooks (node:module register) for a bench process that must run as an app
 * without OpenTelemetry: the repository has @opentelemetry/api installed for its tests, and
 * `npm run bench` hides it, so that every figure but the telemetry ones is measured as most users
 * run the package. Looked for by the package with import(), so a resolve hook sees every look.
 */
type NextResolve = (specifier: string, context: unknown) => Promise<unknown>;

export function resolve(specifier: string, context: unknown, next: NextResolve): Promise<unknown> {
  if (specifier.startsWith('@opentelemetry/'))
    throw Object.assign(new Error(`Cannot find package '${specifier}' (hidden by the bench)`), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
  return next(specifier, context);
}
