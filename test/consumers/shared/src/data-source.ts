import { DataSource } from 'typeorm';
import { dataSourceOptions } from './data-source-options';

// For the CLI: `migration-lock run -d dist/data-source.js`, as for `typeorm migration:run -d`.
export default new DataSource(dataSourceOptions());
