/**
 * Warden's version and home page, read from package.json: the one place they are written. The file sits one
 * folder above this module both in the source tree (src/) and in the published package (dist/).
 */
import { readFileSync } from 'node:fs';

const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string; homepage?: string };

export const WARDEN_VERSION: string = manifest.version;
/** Where a report's reader learns about the tool (SARIF `informationUri`); absent when package.json names none. */
export const WARDEN_HOMEPAGE: string | undefined = manifest.homepage;
