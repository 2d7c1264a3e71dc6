import { benchManyMigrationsPass } from '../many-migrations.bench.js';

/*
 * The many-migrations pass in a process of its own, started with `--import ./register.js` so that
 * the library's sources and the bench run on TypeORM 0.3. Prints the pass as one JSON line.
 * Arguments: <server url> <runs> <count>.
 */
const [url, runs, count] = process.argv.slice(2);
const pass = await benchManyMigrationsPass(url, { runs: Number(runs), count: Number(count) });
console.log(JSON.stringify(pass));
