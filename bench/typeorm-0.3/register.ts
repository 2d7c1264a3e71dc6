import { register } from 'node:module';

/* `node --import <this file>`: the process resolves `typeorm` to TypeORM 0.3 (see resolve-hooks). */
register('./resolve-hooks.js', import.meta.url);
