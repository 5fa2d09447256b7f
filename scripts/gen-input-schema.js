#!/usr/bin/env node
// Generates schemas/dte-input.schema.json from the zod schema of packages/dte/src/input.ts.
// Run after `npm run build` (it imports the compiled package):
//   node scripts/gen-input-schema.js          write the file
//   node scripts/gen-input-schema.js --check  exit 1 if the committed file is stale
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { DTE_INPUT_SCHEMA_PATH, dteInputJsonSchemaText } from '../packages/dte/dist/input.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const target = path.join(root, DTE_INPUT_SCHEMA_PATH);
const text = dteInputJsonSchemaText();

if (process.argv.includes('--check')) {
  const current = await readFile(target, 'utf8').catch(() => '');
  if (current !== text) {
    process.stderr.write(`${DTE_INPUT_SCHEMA_PATH} is stale: run npm run build && node scripts/gen-input-schema.js\n`);
    process.exit(1);
  }
  process.stdout.write(`${DTE_INPUT_SCHEMA_PATH} is up to date\n`);
} else {
  await writeFile(target, text);
  process.stdout.write(`wrote ${DTE_INPUT_SCHEMA_PATH}\n`);
}
