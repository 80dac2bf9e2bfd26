/**
 * This package's version, read from its package.json (which ships next to dist/ in the image):
 * INFO server, GET /v1/node and ballast_build_info report it.
 */
import { readFileSync } from 'node:fs';

export const BALLAST_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
