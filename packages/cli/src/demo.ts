/**
 * `npm run tour`: a tour of the core on this machine — generate test
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

// ---- 5. The SII simulator: send both envelopes and follow them to their final state ----
// (The notes 56/61/111/112 of the examples reference documents this simulator never received, so
// it rejects them with REF-3-750, as the SII would.)
if (code === 0) {
  const { createSimulator } = await import('@timbre/sii-sim');
  const { createSiiClient } = await import('@timbre/sii');
  const { loadPkcs12 } = await import('@timbre/dte');
  const manifest = JSON.parse(await readFile(path.join(fx, 'fixtures.json'), 'utf8')) as { trust: { idk: number } };
  const trustPem = await readFile(path.join(fx, 'trust', `${manifest.trust.idk}.pem`), 'utf8');
  const sim = createSimulator({ statusDelayMs: 1500, trustedKeys: [{ idk: manifest.trust.idk, pem: trustPem }], ...(process.env.TIMBRE_SII_SCHEMAS ? { schemasDir: process.env.TIMBRE_SII_SCHEMAS } : {}) });
  let simUrl: string;
  try {
    simUrl = await sim.start(Number(process.env.TIMBRE_SIM_PORT ?? 8090));
  } catch {
    simUrl = await sim.start(0); // 8090 taken
  }
  console.log(`5. SII simulator on ${simUrl}: upload the envelopes and poll their status`);
  const certificate = loadPkcs12(await readFile(path.join(fx, 'cert.p12')), 'timbre');
  const client = createSiiClient({ environment: 'sim', siiUrl: simUrl, certificate });
  for (const xml of ['envio-dte.xml', 'envio-boleta.xml']) {
    const sent = await client.sendEnvelope(await readFile(path.join(out, xml)), { rutEmisor: '76086428-5' });
    if (sent.kind !== 'received') {
      console.log(`   ${xml}: ${sent.kind}`);
      continue;
    }
    let estado = await client.getEstUp(sent.trackId, '76086428-5');
    for (let i = 0; i < 30 && !estado.final; i++) {
      await new Promise((r) => setTimeout(r, 250));
      estado = await client.getEstUp(sent.trackId, '76086428-5');
    }
    const counts = estado.counts.map((c) => `${c.tipoDte}: ${c.aceptados}/${c.informados} aceptados`).join(', ');
    console.log(`   ${xml} → track id ${sent.trackId} → ${estado.estado} ${estado.glosa} (${estado.outcome}) ${counts}`);
    // What the SII would e-mail: the reason of each rejected document.
    const detail = (await (await fetch(`${simUrl}/sim/envios/${sent.trackId}`)).json()) as {
      documentos?: { tipoDte: number; folio: number; estado: string; errores: { code: string; glosa: string }[] }[];
    };
    for (const d of detail.documentos ?? []) {
      if (d.errores.length) console.log(`     ${d.tipoDte} folio ${d.folio}: ${d.estado} — ${d.errores.map((e) => `${e.code} ${e.glosa}`).join('; ')}`);
    }
  }
  if (process.env.TIMBRE_DEMO_KEEP_SIM === '1') {
    console.log(`\nThe simulator keeps running on ${simUrl} (Ctrl-C to stop). Try: npx timbre sii status <trackId> --rut 76086428-5 --env sim --sii-url ${simUrl} --cert ${path.join(fx, 'cert.p12')} --cert-password timbre`);
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  }
  await sim.close();
}
