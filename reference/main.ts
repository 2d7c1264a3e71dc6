import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './service/app.module.js';
import { resolveDatabaseUrl } from './service/database-url.js';

/** `npm start`: the reference clusters service. Migrations run under the lock before it listens. */
const logger = new Logger('ClustersApi');
const databaseUrl = await resolveDatabaseUrl((line) => logger.log(line));
const app = await NestFactory.create(AppModule.register({ databaseUrl }));
app.enableShutdownHooks();
const host = process.env.HOST ?? '127.0.0.1';
await app.listen(Number(process.env.PORT ?? 3000), host);
logger.log(`Listening on ${await app.getUrl()}`);
