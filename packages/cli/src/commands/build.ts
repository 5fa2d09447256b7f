import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  TimbreError,
  buildEnvelope,
  caratulaRutReceptor,
  createFolioAllocator,
  emitDte,
  inputToDte,
  loadPkcs12,
  normalizeRut,
  parseCaf,
  parseDteInput,
  siiTimestamp,
  siiTimestampToDate,
  toBytes,
  verifyCaf,
  type Caf,
  type EmittedDte,
} from '@timbre/dte';
import { loadTrustDir, readInput } from '../files.js';

export interface BuildOptions {
  cert: string;
  certPassword?: string;
  signerRut?: string;
  caf: string[];
  envelope?: string;
  resolution?: string;
  now?: string;
  folio?: string;
  trust?: string;
  nonLatin1: string;
  output: string;
}

const usage = (message: string, field?: string) => new TimbreError('ERR_INPUT_INVALID', message, field ? { field } : {});

export async function runBuild(inputFile: string, o: BuildOptions): Promise<number> {
  if (o.envelope !== undefined && o.envelope !== 'sii' && o.envelope !== 'receiver') throw usage('--envelope must be sii or receiver', '--envelope');
  if (o.nonLatin1 !== 'replace' && o.nonLatin1 !== 'refuse') throw usage('--non-latin1 must be replace or refuse', '--non-latin1');
  const signingDate = o.now === undefined ? new Date() : siiTimestampToDate(siiTimestamp(o.now));
  const timestamp = siiTimestamp(o.now ?? signingDate);

  let json: unknown;
  try {
    json = JSON.parse((await readInput(inputFile)).toString('utf8'));
  } catch (e) {
    throw usage(`${inputFile} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`, 'input');
  }
  const list = Array.isArray(json) ? json : json && typeof json === 'object' && Array.isArray((json as { documents?: unknown }).documents) ? (json as { documents: unknown[] }).documents : [json];
  if (list.length === 0) throw usage('the input holds no document', 'input');

  const password = o.certPassword ?? process.env.TIMBRE_CERT_PASSWORD ?? '';
  const cert = loadPkcs12(await readFile(o.cert), password, { now: signingDate, ...(o.signerRut ? { rut: o.signerRut } : {}) });
  const cafs: Caf[] = [];
  for (const f of o.caf) cafs.push(parseCaf(await readFile(f)));
  if (o.trust) {
    const trusted = await loadTrustDir(o.trust);
    for (const c of cafs) verifyCaf(c, { trustedKeys: trusted });
  }
  const allocate = createFolioAllocator(cafs, o.folio !== undefined ? Number(o.folio) : undefined);
  const policy = o.nonLatin1;

  const emitted: EmittedDte[] = list.map((raw, i) => {
    try {
      const input = parseDteInput(raw);
      const tipo = Number(input.dte_type);
      const folio = input.folio && input.folio > 0 ? input.folio : allocate(normalizeRut(input.emisor.rut, 'emisor.rut'), tipo);
      const dte = inputToDte(input, { folio, nonLatin1: policy, fchEmis: timestamp.slice(0, 10) });
      return emitDte(dte, { cafs, signer: cert, now: timestamp, nonLatin1: policy });
    } catch (e) {
      if (list.length > 1 && e instanceof TimbreError) {
        process.stderr.write(`timbre: document #${i} of ${inputFile}:\n`);
      }
      throw e;
    }
  });

  if (o.envelope) {
    const emisores = new Set(emitted.map((d) => d.key.rutEmisor));
    if (emisores.size > 1) throw usage(`one envelope holds one issuer's documents (found ${[...emisores].join(', ')})`, 'emisor.rut');
    let rutReceptor: string;
    if (o.envelope === 'receiver') {
      const receptores = new Set(emitted.map((d) => d.dte.encabezado.receptor.rutRecep));
      if (receptores.size > 1) throw usage(`a receiver envelope goes to one buyer (found ${[...receptores].join(', ')})`, 'receptor.rut');
      rutReceptor = caratulaRutReceptor('receiver', [...receptores][0]);
    } else {
      rutReceptor = caratulaRutReceptor('sii');
    }
    const { nroResol, fchResol } = resolution(o.resolution, cafs);
    const env = buildEnvelope({
      dtes: emitted.map((d) => ({ xml: d.xml, canonical: d.canonical, tipoDte: d.key.tipoDte })),
      caratula: { rutEmisor: [...emisores][0] as string, rutEnvia: cert.rut, rutReceptor, fchResol, nroResol, tmstFirmaEnv: timestamp },
      key: cert.signingKey,
    });
    await writeFile(o.output, toBytes(env.xml));
    process.stderr.write(`${env.kind} with ${emitted.length} DTE (${emitted.map((d) => d.slug).join(', ')}) → ${o.output}\n`);
    return 0;
  }

  if (emitted.length === 1) {
    const d = emitted[0] as EmittedDte;
    await writeFile(o.output, toBytes(d.xml));
    process.stderr.write(`DTE ${d.slug} → ${o.output}\n`);
    return 0;
  }
  // A list without envelope: one file per DTE in the output directory.
  const isDir = await stat(o.output).then((s) => s.isDirectory(), () => false);
  if (!isDir && !o.output.endsWith('/')) throw usage('a list of documents needs --envelope, or an output directory (-o DIR/)', '--output');
  await mkdir(o.output, { recursive: true });
  for (const d of emitted) await writeFile(path.join(o.output, `${d.slug}.xml`), toBytes(d.xml));
  process.stderr.write(`${emitted.length} DTE → ${o.output}\n`);
  return 0;
}

function resolution(value: string | undefined, cafs: Caf[]): { nroResol: number; fchResol: string } {
  if (value === undefined) {
    // Certificación: NroResol 0; FchResol is the date the SII shows for the company (here: the CAF's FA).
    const fa = cafs.map((c) => c.fechaAutorizacion).sort()[0] ?? siiTimestamp().slice(0, 10);
    process.stderr.write(`timbre: no --resolution given; using NroResol 0 and FchResol ${fa} (certificación)\n`);
    return { nroResol: 0, fchResol: fa };
  }
  return parseResolution(value);
}

/** `--resolution NUM:YYYY-MM-DD` (NroResol:FchResol), shared by `dte build` and `pdf`. */
export function parseResolution(value: string): { nroResol: number; fchResol: string } {
  const m = /^(\d+):(\d{4}-\d{2}-\d{2})$/.exec(value);
  if (!m) throw usage('--resolution must look like NUM:YYYY-MM-DD, e.g. 80:2014-08-22 or 0:2026-01-15', '--resolution');
  return { nroResol: Number(m[1]), fchResol: m[2] as string };
}
