// Core benchmark (issue 2): documents stamped + signed per second on one core, envelope build + sign
// for 1, 10, 100 and 1,000 documents, and in the same run the crypto ceiling (RSA-2048 and RSA-512
// signatures per second through node:crypto). Last line: one JSON object.
import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildEnvelope,
  emitDte,
  generateFixtures,
  inputToDte,
  loadPkcs12,
  parseCaf,
  parseDteInput,
} from '@timbre/dte';
import { rate as rateOf } from './lib/rate.js';

const rate = (fn) => rateOf(fn, { seconds: secondsFor, warmup: 50, chunk: 50 });

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NOW = '2026-11-27T10:00:00';
const secondsFor = Number(process.env.BENCH_SECONDS ?? 2);


function timeMs(fn, repeat = 5) {
  let best = Infinity;
  for (let i = 0; i < repeat; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return best;
}

// ---- ceiling ----
const data = Buffer.alloc(600, 'a');
const k2048 = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const k512 = generateKeyPairSync('rsa', { modulusLength: 512, publicExponent: 3 }).privateKey;
const rsa2048 = rate(() => sign('sha1', data, k2048));
const rsa512 = rate(() => sign('sha1', data, k512));
const ceiling = 1 / (1 / rsa2048 + 1 / rsa512);

// ---- documents ----
const fx = generateFixtures({ desde: 1, hasta: 10_000_000, fechaAutorizacion: '2026-11-01', tipos: [33] });
const cert = loadPkcs12(fx.p12, fx.p12Password, { now: new Date('2026-11-27T12:00:00Z') });
const cafs = fx.cafs.map((c) => parseCaf(c.xml));
const example = JSON.parse(readFileSync(path.join(root, 'examples/dte/33.json'), 'utf8'));
const input = parseDteInput(example);
const opts = { cafs, signer: cert, now: NOW };

let folio = 1;
const docsPerS = rate(() => emitDte(inputToDte(input, { folio: folio++, fchEmis: '2026-11-27' }), opts));
const dtes = Array.from({ length: 200 }, (_, i) => inputToDte(input, { folio: 5_000_000 + i, fchEmis: '2026-11-27' }));
const stampSignPerS = rate((i) => emitDte(dtes[i % dtes.length], opts));

// ---- envelopes ----
const emitted = Array.from({ length: 1000 }, (_, i) => emitDte(inputToDte(input, { folio: 9_000_000 + i, fchEmis: '2026-11-27' }), opts));
const caratula = { rutEmisor: '76086428-5', rutEnvia: cert.rut, rutReceptor: '60803000-K', fchResol: '2026-11-01', nroResol: 0, tmstFirmaEnv: NOW };
const envelope = {};
for (const n of [1, 10, 100, 1000]) {
  const part = emitted.slice(0, n).map((d) => ({ xml: d.xml, canonical: d.canonical, tipoDte: 33 }));
  envelope[n] = timeMs(() => buildEnvelope({ dtes: part, caratula, key: cert.signingKey }));
}
// Envelope of DTEs whose canonical form is not known (e.g. signed elsewhere): parsed and canonicalized.
const foreign1000 = timeMs(() => buildEnvelope({ dtes: emitted.map((d) => ({ xml: d.xml, tipoDte: 33 })), caratula, key: cert.signingKey }), 3);

const fmt = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(2));
console.log(`ceiling: RSA-2048 ${fmt(rsa2048)} sig/s, RSA-512 ${fmt(rsa512)} sig/s → ${fmt(ceiling)} docs/s (one of each per document)`);
console.log(`documents input→stamped+signed: ${fmt(docsPerS)} docs/s (${(docsPerS / ceiling * 100).toFixed(1)} % of ceiling)`);
console.log(`documents stamp+sign only:      ${fmt(stampSignPerS)} docs/s (${(stampSignPerS / ceiling * 100).toFixed(1)} % of ceiling)`);
for (const n of [1, 10, 100, 1000]) console.log(`envelope build+sign ${String(n).padStart(4)} docs: ${envelope[n].toFixed(2)} ms (${(envelope[n] / n).toFixed(3)} ms/doc)`);
console.log(`envelope of 1000 foreign DTEs (parse + C14N path): ${foreign1000.toFixed(1)} ms`);
console.log(JSON.stringify({
  bench: 'core',
  docs_per_s: Math.round(docsPerS),
  stamp_sign_docs_per_s: Math.round(stampSignPerS),
  envelope_1_ms: +envelope[1].toFixed(3),
  envelope_10_ms: +envelope[10].toFixed(3),
  envelope_100_ms: +envelope[100].toFixed(3),
  envelope_1000_ms: +envelope[1000].toFixed(3),
  envelope_1000_foreign_ms: +foreign1000.toFixed(1),
  rsa2048_sig_per_s: Math.round(rsa2048),
  rsa512_sig_per_s: Math.round(rsa512),
  ceiling_docs_per_s: Math.round(ceiling),
  ratio_to_ceiling: +(docsPerS / ceiling).toFixed(3),
}));
