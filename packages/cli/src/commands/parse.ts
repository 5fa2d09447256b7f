import { readFile } from 'node:fs/promises';
import { parseXml, findAll, readDte } from '@timbre/dte';

/** Print the typed model of every DTE in the file as JSON (one object, or a list for envelopes). */
export async function runParse(file: string): Promise<number> {
  const doc = parseXml(await readFile(file));
  const dtes = doc.root.local === 'DTE' ? [doc.root] : findAll(doc.root, 'DTE');
  const out = dtes.map((el) => {
    const r = readDte(el);
    return { id: r.id, tmstFirma: r.tmstFirma, ...r.dte, ...(r.warnings.length ? { warnings: r.warnings } : {}) };
  });
  if (out.length === 0) {
    process.stderr.write(`timbre: ${file} holds no DTE (root ${doc.root.local})\n`);
    return 1;
  }
  process.stdout.write(`${JSON.stringify(doc.root.local === 'DTE' ? out[0] : out, null, 2)}\n`);
  return 0;
}
