/**
 * This package's name and version, as telemetry and records name it. A unit test keeps the
 * version equal to package.json's (the builds cannot read that file in both module formats).
 */
export const PACKAGE_NAME = 'nestjs-migration-lock';
export const PACKAGE_VERSION = '0.1.0';
