/*
 * Module resolution hooks (node:module register) for a bench process that must run on TypeORM 0.3:
 * every import of `typeorm` or `typeorm/…`, from this repository's code or the library's sources,
 * resolves to the devDependency `typeorm-0.3` (an npm alias of typeorm@0.3.x) instead of the 1.x
 * the repository builds against. Only imports are redirected: nothing the bench loads requires
 * typeorm through CommonJS.
 */
type NextResolve = (specifier: string, context: unknown) => Promise<unknown>;

const TYPEORM = /^typeorm(?=$|\/)/;

export function resolve(specifier: string, context: unknown, next: NextResolve): Promise<unknown> {
  return next(specifier.replace(TYPEORM, 'typeorm-0.3'), context);
}
