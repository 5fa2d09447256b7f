#!/usr/bin/env node
// `npm run eval -- <name>`: run an evaluation (after `npm run build`). Extra arguments are passed on.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const EVALS = {
  // AI service: folio usage forecasting (packages/forecast)
  ai: 'packages/forecast/eval/run.js',
};
const [name, ...rest] = process.argv.slice(2);
const file = name === undefined ? undefined : EVALS[name];
if (file === undefined) {
  console.error(`usage: npm run eval -- <${Object.keys(EVALS).join('|')}> [options]`);
  process.exit(2);
}
process.argv = [process.argv[0], path.join(root, file), ...rest];
await import(pathToFileURL(path.join(root, file)).href);
