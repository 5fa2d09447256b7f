import { TimbreError, TimbreValidationError } from '@timbre/dte';

/** Print an error for a person (stderr) and return the exit code: 2 for input/usage errors. */
export function reportError(e: unknown): number {
  if (e instanceof TimbreValidationError) {
    process.stderr.write(`timbre: ${e.issues.length} problem(s) in the input:\n`);
    for (const i of e.issues) process.stderr.write(`  - [${i.code}] ${i.field ? `${i.field}: ` : ''}${i.message}${i.expected !== undefined ? ` (expected ${JSON.stringify(i.expected)})` : ''}\n`);
    return 2;
  }
  if (e instanceof TimbreError) {
    process.stderr.write(`timbre: [${e.code}] ${e.field ? `${e.field}: ` : ''}${e.message}${e.siiCode ? ` (SII ${e.siiCode})` : ''}\n`);
    return 2;
  }
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err === 'object' && typeof err.code === 'string' && err.code.startsWith('E')) {
    process.stderr.write(`timbre: ${err.message}\n`);
    return 2;
  }
  process.stderr.write(`timbre: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  return 70;
}
