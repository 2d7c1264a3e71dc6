import { readFileSync } from 'node:fs';
import { PACKAGE_NAME, PACKAGE_VERSION } from '../../src/telemetry/package-version.js';

describe('package version', () => {
  it('is the one package.json says (telemetry names the package with it)', () => {
    const manifest = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    );
    expect([PACKAGE_NAME, PACKAGE_VERSION]).toEqual([manifest.name, manifest.version]);
  });
});
