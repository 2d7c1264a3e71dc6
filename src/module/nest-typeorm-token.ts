import { DataSource } from 'typeorm';

/**
 * The token @nestjs/typeorm registers a DataSource under: its `getDataSourceToken(name)`, whose
 * rule is part of its public API (the default DataSource under the TypeORM `DataSource` class,
 * a named one under `<name>DataSource`). It is restated here rather than imported because
 * @nestjs/typeorm is an optional peer, and a module that both CommonJS and ESM apps load cannot
 * import an optional package synchronously (no top-level await). A unit test pins it to
 * @nestjs/typeorm's own function.
 */
export function nestTypeormDataSourceToken(dataSourceName?: string): string | typeof DataSource {
  return dataSourceName === undefined || dataSourceName === 'default'
    ? DataSource
    : `${dataSourceName}DataSource`;
}
