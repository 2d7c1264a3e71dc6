#!/usr/bin/env node
// `npm run test:consumers`: the package as its users get it. Packs the project, checks what the
// tarball holds and that every shipped module loads with only the declared peers installed, then
// installs it (no npm flags) into each app under test/consumers/apps/ and, per app: compiles with
// tsc, starts 3 processes at once (every migration and a side effect outside the database exactly
// once, withLock from a feature module, each tenant schema once), runs the CLI (`run`, `status`,
// `validate`, `history`, `tenants run|status`) and the app's e2e test,
// then checks that the test databases it made are gone.
// PostgreSQL: DATABASE_URL when set, else embedded. `--write-table` rewrites docs/compatibility.md's
// compatibility table from what ran; `--only a,b` picks apps. An app whose `consumer.node` names a
// pinned Node.js (a major, or 20.19: test/support/node-binaries.mjs) runs every step on that
// version, the others on this process's.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { nodeBinDir, onNode } from '../support/node-binaries.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const APPS = join(HERE, 'apps');
const SHARED = join(HERE, 'shared');
const PROCESSES = 3;
const CONCURRENT_APPS = 2;

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    'write-table': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});

/** Runs a command; resolves { code, stdout, stderr }. Never throws on a non-zero exit. */
function run(command, commandArgs, { cwd, env = {}, timeoutMs = 300_000 } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, commandArgs, { cwd, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

class StepFailed extends Error {}

/** Runs a step that must exit 0; a failure carries the step's output tail. */
async function must(what, command, commandArgs, options) {
  const result = await run(command, commandArgs, options);
  if (result.code !== 0) {
    const tail = `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-25).join('\n');
    throw new StepFailed(`${what} exited ${result.code}:\n${tail}`);
  }
  return result;
}

function check(condition, message) {
  if (!condition) throw new StepFailed(message);
}

// ---------------------------------------------------------------- PostgreSQL

async function startServer() {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, stop: async () => {} };
  const { startEmbeddedPostgres } = await import(
    join(ROOT, 'build/reference/runtime/embedded-postgres.js')
  );
  return startEmbeddedPostgres({ fast: true });
}

async function withClient(url, work) {
  const client = new pg.Client({ connectionString: url, application_name: 'consumer-matrix' });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function databaseUrl(adminUrl, name) {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function createDatabase(adminUrl, name) {
  await withClient(adminUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  return databaseUrl(adminUrl, name);
}

async function dropDatabase(adminUrl, name) {
  await withClient(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

/** Templates nestjs-migration-lock/testing keeps on the server. */
async function testTemplates(adminUrl) {
  return withClient(adminUrl, async (c) =>
    (
      await c.query(
        `SELECT datname FROM pg_database WHERE datistemplate AND datname LIKE 'mlt\\_%'`,
      )
    ).rows.map((row) => row.datname),
  );
}

/**
 * Test databases and spares (nestjs-migration-lock/testing) an app's e2e run left on the server:
 * named `mlt_<namespace>_d_…` and `…_s_…`, the namespace being the first 8 hex digits of the
 * SHA-256 of the options' database path. Polled until none is left or 15 s have passed: the last
 * spare is dropped by the testing entry's watcher just after the test runner's process ended.
 */
async function testDatabasesLeft(adminUrl, appUrl) {
  const namespace = createHash('sha256').update(new URL(appUrl).pathname).digest('hex').slice(0, 8);
  const deadline = performance.now() + 15_000;
  for (;;) {
    const left = await withClient(adminUrl, async (c) =>
      (
        await c.query(`SELECT datname FROM pg_database WHERE datname ~ $1 AND NOT datistemplate`, [
          `^mlt_${namespace}_[ds]_`,
        ])
      ).rows.map((row) => row.datname),
    );
    if (left.length === 0 || performance.now() > deadline) return left;
    await delay(100);
  }
}

/** The templates this run's apps made: their databases were dropped, so they serve no one. */
async function dropNewTemplates(adminUrl, before) {
  for (const name of await testTemplates(adminUrl)) {
    if (before.includes(name)) continue;
    await withClient(adminUrl, async (c) => {
      await c.query(`ALTER DATABASE "${name}" IS_TEMPLATE false`);
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    });
  }
}

// ---------------------------------------------------------------- the tarball

/**
 * Files the tarball may hold: the two builds (no source maps), the testing entry's stub for
 * resolvers without exports, the LICENSE, README, package.json.
 */
const SHIPPED =
  /^(dist\/(esm|cjs)\/.+\.(js|d\.ts)|dist\/cjs\/package\.json|testing\/package\.json|LICENSE|README\.md|package\.json)$/;

async function pack(workDir) {
  const { stdout } = await must(
    'npm pack',
    'npm',
    ['pack', '--json', '--pack-destination', workDir],
    { cwd: ROOT },
  );
  const [info] = JSON.parse(stdout.slice(stdout.indexOf('[')));
  const files = info.files.map((file) => file.path);
  const unexpected = files.filter((file) => !SHIPPED.test(file));
  check(unexpected.length === 0, `the tarball holds files it should not: ${unexpected.join(', ')}`);
  for (const required of [
    'LICENSE',
    'dist/esm/index.js',
    'dist/cjs/index.js',
    'dist/esm/cli/main.js',
  ])
    check(files.includes(required), `the tarball lacks ${required}`);
  return { tarball: join(workDir, info.filename), files };
}

/**
 * Installs the tarball alone (npm adds the required peers, not the optional ones) and loads every
 * shipped module: require() for dist/cjs, import() for dist/esm; the CLI runs --version.
 */
async function checkShippedModules(workDir, tarball, files) {
  const dir = join(workDir, 'peers-only');
  cpSync(join(HERE, 'peers-only'), dir, { recursive: true });
  await must('npm install (tarball and required peers only)', 'npm', ['install', tarball], {
    cwd: dir,
  });
  const installed = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')).packages;
  for (const optional of ['@nestjs/typeorm', '@nestjs/terminus'])
    check(!installed[`node_modules/${optional}`], `${optional} was installed, but it is optional`);
  const modules = files.filter((file) => /\.js$/.test(file) && file !== 'dist/esm/cli/main.js');
  writeFileSync(join(dir, 'modules.json'), JSON.stringify(modules));
  await must('loading every shipped module', process.execPath, ['load-all.mjs'], { cwd: dir });
  await must('migration-lock --version', 'npx', ['--no-install', 'migration-lock', '--version'], {
    cwd: dir,
  });
  return modules.length;
}

// ---------------------------------------------------------------- one app

/** ESM apps need the `.js` suffix on relative imports; the shared sources are written as nest new writes them. */
function addJsSuffixes(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const path = join(entry.parentPath ?? entry.path, entry.name);
    const text = readFileSync(path, 'utf8').replace(/from '(\.{1,2}\/[^']+)'/g, "from '$1.js'");
    writeFileSync(path, text);
  }
}

/** The app's e2e runner, named as docs/compatibility.md's table names it, from its `test:e2e` script. */
function e2eRunnerOf(manifest) {
  const script = manifest.scripts['test:e2e'];
  if (script.includes('vitest')) return 'vitest';
  if (script.includes('jest')) return 'Jest (ts-jest)';
  return 'node:test';
}

/** The same, with the installed version of vitest or Jest: apps on different majors of one runner. */
function e2eRunnerWithVersion(dir, manifest) {
  const runner = e2eRunnerOf(manifest);
  if (runner === 'vitest') return `vitest ${versionIn(dir, 'vitest')}`;
  if (runner === 'Jest (ts-jest)') return `Jest ${versionIn(dir, 'jest')} (ts-jest)`;
  return runner;
}

function layOut(name, workDir, tarball) {
  const dir = join(workDir, name);
  cpSync(join(APPS, name), dir, { recursive: true });
  cpSync(join(SHARED, 'src'), join(dir, 'src'), { recursive: true });
  const manifest = manifestOf(name);
  const esm = manifest.type === 'module';
  // Jest and vitest (with its globals, as nest new sets it) run one spec, node:test its own. The
  // spec runs as two files, each with a test database of its own (nestjs-migration-lock/testing):
  // the second claims the spare the first one's call cloned ahead, or (several workers) clones
  // beside it; either way each must see only its own rows.
  if (e2eRunnerOf(manifest) === 'node:test')
    cpSync(join(SHARED, 'test', 'app.e2e.test.ts'), join(dir, 'test', 'app.e2e.test.ts'));
  else
    for (const file of ['app.e2e-spec.ts', 'second-file.e2e-spec.ts'])
      cpSync(join(SHARED, 'test', 'app.e2e-spec.ts'), join(dir, 'test', file));
  if (esm) addJsSuffixes(dir);
  manifest.dependencies['nestjs-migration-lock'] = `file:${tarball}`;
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return { dir, manifest };
}

function manifestOf(app) {
  return JSON.parse(readFileSync(join(APPS, app, 'package.json'), 'utf8'));
}

function versionIn(dir, pkg) {
  return JSON.parse(readFileSync(join(dir, 'node_modules', pkg, 'package.json'), 'utf8')).version;
}

/** The folder of the `node` an app runs on: its `consumer.node`, else this process's. */
function appNodeBin(manifest) {
  return manifest.consumer.node ? nodeBinDir(manifest.consumer.node) : dirname(process.execPath);
}

/**
 * An app with the OpenTelemetry SDK (test/consumers/otel/tracing.cjs, preloaded as such apps do):
 * its start-up's migration run and its feature module's withLock arrive as spans.
 */
async function checkSpansArrive(dir, main, nodeBin, adminUrl, database) {
  cpSync(join(HERE, 'otel', 'tracing.cjs'), join(dir, 'tracing.cjs'));
  const spansFile = join(dir, 'spans.jsonl');
  const url = await createDatabase(adminUrl, database);
  try {
    await must(
      'the app with the OpenTelemetry SDK',
      join(nodeBin, 'node'),
      ['-r', './tracing.cjs', main],
      {
        cwd: dir,
        env: onNode(nodeBin, {
          DATABASE_URL: url,
          SIDE_EFFECT_FILE: join(dir, 'otel-side-effects.log'),
          SPANS_FILE: spansFile,
        }),
      },
    );
    const names = readFileSync(spansFile, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).name);
    for (const expected of ['migration-lock run', 'migration-lock apply ', 'advisory-lock '])
      check(
        names.some((name) => name.startsWith(expected)),
        `no "${expected}" span arrived; spans: ${names.join(', ')}`,
      );
  } finally {
    await dropDatabase(adminUrl, database);
  }
}

async function checkApp(name, workDir, tarball, adminUrl) {
  const { dir, manifest } = layOut(name, workDir, tarball);
  const { main, dataSource, format } = manifest.consumer;
  const nodeBin = await appNodeBin(manifest);
  // Every step (npm, npx, tsc, the app, its e2e test) finds the app's node first on PATH.
  const onAppNode = (env) => onNode(nodeBin, env);
  const node = (await must('node --version', 'node', ['--version'], { env: onAppNode() })).stdout;
  await must('npm install', 'npm', ['install'], { cwd: dir, env: onAppNode() });
  // @opentelemetry/api is an optional peer: npm adds it only for an app that asks for it.
  const otel = '@opentelemetry/api' in manifest.dependencies;
  check(
    otel || !existsSync(join(dir, 'node_modules', '@opentelemetry', 'api')),
    'npm installed the optional peer @opentelemetry/api for an app that does not depend on it',
  );
  await must('tsc', 'npm', ['run', 'build'], { cwd: dir, env: onAppNode() });
  if (otel)
    await checkSpansArrive(
      dir,
      main,
      nodeBin,
      adminUrl,
      `consumer_${name.replace(/\W/g, '_')}_${process.pid}_otel`,
    );

  const id = `${name.replace(/\W/g, '_')}_${process.pid}`;
  const names = ['fleet', 'cli', 'e2e'].map((what) => `consumer_${id}_${what}`);
  const [fleetUrl, cliUrl, e2eUrl] = await Promise.all(
    names.map((db) => createDatabase(adminUrl, db)),
  );
  try {
    // 3 processes at once: every migration and the side effect outside the database exactly once.
    const sideEffects = join(dir, 'side-effects.log');
    const env = onAppNode({ DATABASE_URL: fleetUrl, SIDE_EFFECT_FILE: sideEffects });
    const replicas = await Promise.all(
      Array.from({ length: PROCESSES }, () =>
        run(join(nodeBin, 'node'), [main], { cwd: dir, env }),
      ),
    );
    const reports = replicas.map((replica, i) => {
      check(replica.code === 0, `replica ${i} exited ${replica.code}: ${replica.stderr.trim()}`);
      return JSON.parse(replica.stdout.trim().split('\n').at(-1));
    });
    const appliers = reports.filter((report) => report.outcome === 'applied');
    check(appliers.length === 1, `expected one replica to apply, got ${appliers.length}`);
    check(
      reports
        .map((report) => report.counter)
        .sort()
        .join() === '1,2,3',
      `withLock counters from the feature module: ${reports.map((r) => r.counter)}`,
    );
    const outside = readFileSync(sideEffects, 'utf8').trim().split('\n');
    check(outside.length === 1, `the side effect outside the database ran ${outside.length} times`);
    // The tenants (option `tenants`): each of the two migrated by exactly one replica.
    const tenantsMigrated = reports.reduce((sum, report) => sum + (report.tenantsMigrated ?? 0), 0);
    check(tenantsMigrated === 2, `tenants migrated by the 3 processes: ${tenantsMigrated}`);
    await withClient(fleetUrl, async (client) => {
      const { rows } = await client.query(
        `SELECT (SELECT count(*) FROM tenant_a.migrations)::int AS a,
                (SELECT count(*) FROM tenant_b.migrations)::int AS b,
                to_regclass('tenant_a.notes') IS NOT NULL AND to_regclass('tenant_b.notes') IS NOT NULL AS notes`,
      );
      check(
        rows[0].a === 1 && rows[0].b === 1 && rows[0].notes,
        `tenant tables after 3 processes: ${JSON.stringify(rows[0])}`,
      );
    });
    await withClient(fleetUrl, async (client) => {
      const { rows } = await client.query(
        `SELECT (SELECT count(*) FROM side_effects)::int AS effects,
                (SELECT count(*) FROM migrations)::int AS rows,
                (SELECT count(DISTINCT name) FROM migrations)::int AS names`,
      );
      check(
        rows[0].effects === 1 && rows[0].rows === 2 && rows[0].names === 2,
        `database after 3 processes: ${JSON.stringify(rows[0])}`,
      );
    });

    // The CLI from the tarball, on the app's own compiled data source file. In mode `each` (the
    // replicas ran `all`): the session-level lock, released in one round trip or two depending on
    // the app's pg (getTransactionStatus() is newer than 8.11); `status` then finds it free.
    const cliEnv = { env: onAppNode({ DATABASE_URL: cliUrl }), cwd: dir };
    const ran = await must(
      'migration-lock run',
      'npx',
      [
        '--no-install',
        'migration-lock',
        'run',
        '-d',
        dataSource,
        '--transaction',
        'each',
        '--json',
      ],
      cliEnv,
    );
    check(JSON.parse(ran.stdout).applied?.length === 2, `CLI run: ${ran.stdout}`);
    const status = await must(
      'migration-lock status',
      'npx',
      ['--no-install', 'migration-lock', 'status', '-d', dataSource, '--json'],
      cliEnv,
    );
    check(JSON.parse(status.stdout).holder === null, `CLI status: ${status.stdout}`);
    // The history the run kept: validate finds the code unchanged, history lists both migrations.
    const validate = await must(
      'migration-lock validate',
      'npx',
      ['--no-install', 'migration-lock', 'validate', '-d', dataSource, '--json'],
      cliEnv,
    );
    check(JSON.parse(validate.stdout).clean === true, `CLI validate: ${validate.stdout}`);
    const history = await must(
      'migration-lock history',
      'npx',
      ['--no-install', 'migration-lock', 'history', '-d', dataSource, '--json'],
      cliEnv,
    );
    const entries = JSON.parse(history.stdout).applied;
    check(
      entries.length === 2 && entries.every((entry) => entry.checksumStatus === 'ok'),
      `CLI history: ${history.stdout}`,
    );

    // The tenant CLI from the tarball: the app's compiled tenant migrations, two schemas made.
    const tenantArgs = [
      '-d',
      dataSource,
      '--tenant-migrations',
      join(dirname(dataSource), 'tenant-migrations', '*.js'),
      '--schemas',
      "SELECT unnest(ARRAY['tenant_a', 'tenant_b'])",
      '--json',
    ];
    const tenantsRun = await must(
      'migration-lock tenants run',
      'npx',
      ['--no-install', 'migration-lock', 'tenants', 'run', ...tenantArgs, '--create-schemas'],
      cliEnv,
    );
    check(JSON.parse(tenantsRun.stdout).migrated === 2, `CLI tenants run: ${tenantsRun.stdout}`);
    const tenantsStatus = await must(
      'migration-lock tenants status',
      'npx',
      ['--no-install', 'migration-lock', 'tenants', 'status', ...tenantArgs],
      cliEnv,
    );
    check(
      JSON.parse(tenantsStatus.stdout).tenants.every((tenant) => tenant.state === 'current'),
      `CLI tenants status: ${tenantsStatus.stdout}`,
    );

    await must('the e2e test', 'npm', ['run', 'test:e2e'], {
      cwd: dir,
      env: onAppNode({ DATABASE_URL: e2eUrl }),
    });
    const left = await testDatabasesLeft(adminUrl, e2eUrl);
    check(left.length === 0, `the e2e run left test databases behind: ${left.join(', ')}`);
  } finally {
    await Promise.all(names.map((db) => dropDatabase(adminUrl, db)));
  }
  return {
    app: name,
    format,
    nest: versionIn(dir, '@nestjs/core'),
    nestTypeorm: versionIn(dir, '@nestjs/typeorm'),
    typeorm: versionIn(dir, 'typeorm'),
    pg: versionIn(dir, 'pg'),
    typescript: versionIn(dir, 'typescript'),
    e2e: e2eRunnerWithVersion(dir, manifest),
    node: node.trim(),
  };
}

// ---------------------------------------------------------------- report

function table(results, postgres) {
  const lines = [
    '| app | module format | NestJS | @nestjs/typeorm | TypeORM | pg | TypeScript | e2e runner | Node.js | PostgreSQL |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.map(
      (r) =>
        `| \`${r.app}\` | ${r.format} | ${r.nest} | ${r.nestTypeorm} | ${r.typeorm} | ${r.pg} | ${r.typescript} | ${r.e2e} | ${r.node} | ${postgres} |`,
    ),
  ];
  return lines.join('\n');
}

/** The generated table lives in docs/compatibility.md, between its markers. */
function writeCompatibilityTable(text) {
  const path = join(ROOT, 'docs', 'compatibility.md');
  const readme = readFileSync(path, 'utf8');
  const start = '<!-- compatibility:start -->';
  const end = '<!-- compatibility:end -->';
  const [before, rest] = readme.split(start);
  check(rest !== undefined, 'docs/compatibility.md has no compatibility markers');
  writeFileSync(path, `${before}${start}\n${text}\n${end}${rest.split(end)[1]}`);
  return run('npx', ['prettier', '--write', 'docs/compatibility.md'], { cwd: ROOT });
}

async function pool(items, limit, work) {
  const results = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]);
      }
    }),
  );
  return results;
}

async function main() {
  const started = performance.now();
  const workDir = mkdtempSync(join(tmpdir(), 'consumers-'));
  const apps = readdirSync(APPS).filter(
    (name) => !args.only || args.only.split(',').includes(name),
  );
  const server = await startServer();
  let failed = 0;
  try {
    const postgres = await withClient(
      server.url,
      async (c) => (await c.query('SHOW server_version')).rows[0].server_version.split(' ')[0],
    );
    // The Jest and vitest apps' e2e tests make test-database templates (nestjs-migration-lock/testing).
    const templatesBefore = await testTemplates(server.url);
    // Fetched before the apps run side by side, so that two never fetch the same binary at once.
    for (const app of apps) await appNodeBin(manifestOf(app));
    const { tarball, files } = await pack(workDir);
    console.log(`packed ${relative(workDir, tarball)}: ${files.length} files`);
    console.log(
      `loaded every shipped module (${await checkShippedModules(workDir, tarball, files)}) with the required peers only`,
    );
    const outcomes = await pool(apps, CONCURRENT_APPS, async (name) => {
      const appStarted = performance.now();
      try {
        const result = await checkApp(name, workDir, tarball, server.url);
        console.log(`ok   ${name} (${Math.round((performance.now() - appStarted) / 1000)} s)`);
        return result;
      } catch (error) {
        failed += 1;
        console.log(`FAIL ${name}: ${error instanceof StepFailed ? error.message : error.stack}`);
        return undefined;
      }
    });
    await dropNewTemplates(server.url, templatesBefore);
    const passed = outcomes.filter(Boolean);
    const text = table(passed, postgres);
    console.log(`\n${text}\n`);
    if (args['write-table'] && failed === 0) await writeCompatibilityTable(text);
    console.log(`took ${Math.round((performance.now() - started) / 1000)} s`);
    console.log(`consumers: ${passed.length} passed, ${failed} failed`);
  } finally {
    await server.stop();
    if (!args.keep) rmSync(workDir, { recursive: true, force: true });
  }
  return failed === 0 ? 0 : 1;
}

// process.exit, not exitCode: with embedded PostgreSQL, its exit hook (async-exit-hook) ends the
// process with 0 at beforeExit, whatever exitCode says.
main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof StepFailed ? error.message : error);
    process.exit(1);
  },
);
