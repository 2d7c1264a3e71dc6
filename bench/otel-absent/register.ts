import { register } from 'node:module';

/* `node --import <this file>`: the process cannot find @opentelemetry/api (see resolve-hooks). */
register('./resolve-hooks.js', import.meta.url);
