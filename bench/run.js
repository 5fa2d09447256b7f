#!/usr/bin/env node
// `npm run bench -- <name>`: run a benchmark from bench/<name>.js (after `npm run build`).
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const names = readdirSync(here).filter((f) => f.endsWith('.js') && f !== 'run.js').map((f) => f.slice(0, -3));
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
if (wanted.length === 0) {
  console.error(`usage: npm run bench -- <${names.join('|')}>`);
  process.exit(2);
}
for (const name of wanted) {
  const file = path.join(here, `${name}.js`);
  if (!existsSync(file)) {
    console.error(`no benchmark "${name}" (have: ${names.join(', ')})`);
    process.exit(2);
  }
  await import(pathToFileURL(file).href);
}
