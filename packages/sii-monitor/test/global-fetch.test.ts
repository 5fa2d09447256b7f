/**
 * Importing the monitor must not change how the rest of the process fetches: the full 'cheerio'
 * entry loads undici 7, which installs its own global dispatcher under Node's built-in fetch (the
 * DTE service's uploads to the simulator then stalled when both services shared a process).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const probe = (specifier: string): string =>
  execFileSync(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(specifier)}); console.log(globalThis[Symbol.for('undici.globalDispatcher.1')] === undefined ? 'untouched' : 'replaced');`], {
    encoding: 'utf8',
    cwd: fileURLToPath(new URL('..', import.meta.url)),
  }).trim();

describe('global fetch', () => {
  it('importing @timbre/sii-monitor leaves the global fetch dispatcher alone', () => {
    expect(probe(dist)).toBe('untouched');
  });

  it('(the probe sees it when it happens: the full cheerio entry replaces it)', () => {
    expect(probe('cheerio')).toBe('replaced');
  });
});
