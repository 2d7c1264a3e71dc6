import { defineConfig } from 'vitest/config';

// vitest 5, without the vite-tsconfig-paths plugin nest new v12 still adds for vitest 4: Vite
// resolves tsconfig paths itself now, and this app has none.
export default defineConfig({
  test: {
    globals: true,
    root: './',
    include: ['**/*.e2e-spec.ts'],
  },
});
