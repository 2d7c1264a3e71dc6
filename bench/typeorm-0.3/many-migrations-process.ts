import {
  benchManyMigrationsMode,
  loadedTypeormVersion,
  type ManyMigrationsMode,
} from '../many-migrations.bench.js';

/*
 * One transaction mode of the many-migrations bench in a process of its own, started with
 * `--import ./register.js` so that the library's sources and the bench run on TypeORM 0.3. Prints
 * `{ typeorm, result }` as one JSON line. Arguments: <server url> <runs> <count> <mode>.
 */
const [url, runs, count, mode] = process.argv.slice(2);
const result = await benchManyMigrationsMode(
  url,
  { runs: Number(runs), count: Number(count) },
  mode as ManyMigrationsMode,
);
console.log(JSON.stringify({ typeorm: loadedTypeormVersion(), result }));
