/**
 * `npm start` (until the services land): a tour of the core on this machine — generate test
 * fixtures, build and sign one document of every type from examples/dte, wrap them in an EnvioDTE
 * and an EnvioBOLETA for the SII, and verify everything.
 */
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runFixtures } from './commands/fixtures.js';
import { runBuild } from './commands/build.js';
import { runVerify } from './commands/verify.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const out = path.join(root, '.tmp', 'demo');
const fx = path.join(out, 'fixtures');
const examples = path.join(root, 'examples', 'dte');
const now = new Date().toISOString();

await mkdir(out, { recursive: true });
console.log(`1. Test fixtures (certificate, fake SII key, CAFs) → ${fx}`);
await runFixtures(fx, { rut: '76086428-5', signerRut: '12345678-5', password: 'timbre', folios: '1:1000' });

const files = (await readdir(examples)).filter((f) => f.endsWith('.json')).sort((a, b) => parseInt(a) - parseInt(b));
const cafs = (await readdir(path.join(fx, 'caf'))).map((f) => path.join(fx, 'caf', f));
const common = { cert: path.join(fx, 'cert.p12'), certPassword: 'timbre', caf: cafs, nonLatin1: 'replace', now };
console.log(`2. Build, stamp and sign ${files.length} example documents`);
const built: string[] = [];
for (const f of files) {
  const output = path.join(out, f.replace('.json', '.xml'));
  await runBuild(path.join(examples, f), { ...common, output });
  built.push(output);
}
console.log('3. Envelopes for the SII');
const boletas: string[] = files.filter((f) => f === '39.json' || f === '41.json');
const others = files.filter((f) => !boletas.includes(f));
const { writeFile } = await import('node:fs/promises');
const lists = [
  ['envio-dte.json', others, 'envio-dte.xml'],
  ['envio-boleta.json', boletas, 'envio-boleta.xml'],
] as const;
const { readFile } = await import('node:fs/promises');
for (const [listName, members, xml] of lists) {
  const docs = await Promise.all(members.map(async (m) => JSON.parse(await readFile(path.join(examples, m), 'utf8'))));
  await writeFile(path.join(out, listName), JSON.stringify(docs));
  await runBuild(path.join(out, listName), { ...common, envelope: 'sii', resolution: `0:${now.slice(0, 10)}`, folio: '500', output: path.join(out, xml) });
  built.push(path.join(out, xml));
}
console.log('4. Verify everything (signatures, TEDs, CAFs against the fake SII key, totals, XSD when TIMBRE_SII_SCHEMAS is set)');
const code = await runVerify(built, { trust: path.join(fx, 'trust'), ...(process.env.TIMBRE_SII_SCHEMAS ? { schemas: process.env.TIMBRE_SII_SCHEMAS } : {}) });
console.log(code === 0 ? `\nAll documents verify. Files are in ${out}` : '\nSome documents failed verification (see above).');
process.exitCode = code;
