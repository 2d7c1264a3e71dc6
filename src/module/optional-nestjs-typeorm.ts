/*
 * @nestjs/typeorm is an optional peer: a user who passes `dataSource` directly need not install it.
 * It is loaded once here, so the rest of the module can depend on getDataSourceToken() — the one
 * way to reach a (named) DataSource it registered — without a hard dependency.
 */
type NestTypeorm = typeof import('@nestjs/typeorm');

async function load(): Promise<NestTypeorm | undefined> {
  try {
    return await import('@nestjs/typeorm');
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}

export const nestTypeorm: NestTypeorm | undefined = await load();
