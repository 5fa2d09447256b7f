import { readFile } from 'node:fs/promises';
import { verifyXml, type XmlVerification, type DocumentVerification } from '@timbre/dte';
import { loadTrustDir } from '../files.js';
import { SchemaSet, SCHEMAS_HELP, type SchemaResult } from '@timbre/xsd';

export interface VerifyCliOptions {
  schemas?: string;
  trust?: string;
  json?: boolean;
}

export interface FileReport {
  file: string;
  valid: boolean;
  schema?: SchemaResult | { skipped: string };
  report: Omit<XmlVerification, 'doc'>;
}

export async function runVerify(files: string[], o: VerifyCliOptions): Promise<number> {
  const trustedKeys = o.trust ? await loadTrustDir(o.trust) : undefined;
  const schemasDir = o.schemas ?? process.env.TIMBRE_SII_SCHEMAS;
  const schemas = schemasDir ? await SchemaSet.load(schemasDir) : undefined;
  const reports: FileReport[] = [];
  for (const file of files) reports.push(await verifyFile(file, { trustedKeys, schemas }));
  if (o.json) {
    process.stdout.write(`${JSON.stringify(reports.length === 1 && files.length === 1 ? reports[0] : reports, null, 2)}\n`);
  } else {
    for (const r of reports) process.stdout.write(render(r, !!trustedKeys));
    if (!schemas) process.stdout.write(`note: XSD validation skipped (no --schemas). ${SCHEMAS_HELP}\n`);
  }
  return reports.every((r) => r.valid) ? 0 : 1;
}

export async function verifyFile(
  file: string,
  ctx: { trustedKeys?: Awaited<ReturnType<typeof loadTrustDir>> | undefined; schemas?: SchemaSet | undefined },
): Promise<FileReport> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return { file, valid: false, report: { root: '', encoding: '', envelopeSignatures: [], documents: [], errors: [{ code: 'ERR_FILE', message }], valid: false } };
  }
  const { doc, ...report } = verifyXml(bytes, ctx.trustedKeys ? { trustedKeys: ctx.trustedKeys } : {});
  if (ctx.trustedKeys) {
    for (const d of report.documents) {
      if (d.ted && d.ted.cafSignatureValid === false) {
        d.errors.push({ code: 'ERR_CAF_SIGNATURE_INVALID', message: `CAF not signed by a trusted SII key (IDK ${d.ted.caf?.idk ?? '?'})` });
        d.valid = false;
        report.valid = false;
      }
    }
  }
  let schema: FileReport['schema'];
  if (ctx.schemas && doc) {
    // The decoded text as UTF-8, the SII namespace added when missing (schemaInput in @timbre/xsd).
    const boleta = report.documents.length === 1 && [39, 41].includes(report.documents[0]?.tipoDte ?? 0);
    schema = (await ctx.schemas.validateDocument(doc, boleta)) ?? { skipped: `no schema for root element ${doc.root.local}` };
    if ('valid' in schema && !schema.valid) report.valid = false;
  } else if (!ctx.schemas) {
    schema = { skipped: 'no --schemas directory' };
  }
  return { file, valid: report.valid, ...(schema ? { schema } : {}), report };
}

function render(r: FileReport, trusted: boolean): string {
  const lines: string[] = [];
  const rep = r.report;
  lines.push(`${r.valid ? 'PASS' : 'FAIL'} ${r.file}${rep.root ? ` (${rep.root}, ${rep.encoding})` : ''}`);
  for (const e of rep.errors) lines.push(`  error [${e.code}] ${e.message}`);
  if (r.schema) {
    if ('skipped' in r.schema) lines.push(`  schema: skipped (${r.schema.skipped})`);
    else {
      lines.push(`  schema ${r.schema.schema}: ${r.schema.valid ? 'valid' : 'INVALID'}`);
      for (const e of r.schema.errors.slice(0, 10)) lines.push(`    ${e}`);
    }
  }
  for (const s of rep.envelopeSignatures) {
    lines.push(`  signature ${s.referenceUri || '(whole document)'}: ${s.valid ? `valid (${s.mode})` : `INVALID ${s.error ? `[${s.error.code}] ${s.error.message}` : ''}`}`);
  }
  if (rep.caf) {
    const c = rep.caf;
    const sig = c.signatureValid === undefined ? 'SII signature not checked (no --trust)' : c.signatureValid ? 'signed by a trusted SII key' : 'NOT signed by a trusted SII key';
    lines.push(`  CAF ${c.rutEmisor} type ${c.tipoDte} folios ${c.desde}-${c.hasta}, authorized ${c.fechaAutorizacion}${c.expiresAt ? `, usable until ${c.expiresAt} (exclusive)` : ''}, IDK ${c.idk}: ${sig}`);
  }
  if (rep.caratula) lines.push(`  carátula: ${rep.caratula.problems.length === 0 ? `ok (RutEnvia ${rep.caratula.rutEnvia}, RutReceptor ${rep.caratula.rutReceptor})` : rep.caratula.problems.join('; ')}`);
  for (const d of rep.documents) lines.push(...renderDocument(d, trusted));
  return `${lines.join('\n')}\n`;
}

function renderDocument(d: DocumentVerification, trusted: boolean): string[] {
  const parts: string[] = [];
  if (d.signature) parts.push(d.signature.valid ? `signature valid (${d.signature.mode})` : 'signature INVALID');
  if (d.ted) parts.push(d.ted.valid ? `TED valid (${d.ted.strategy})` : 'TED INVALID');
  if (d.ted?.caf) {
    const c = d.ted.caf;
    const status = !trusted ? 'not checked (no --trust)' : d.ted.cafSignatureValid ? 'signed by a trusted SII key' : 'NOT trusted';
    parts.push(`CAF ${c.tipoDte} ${c.desde}-${c.hasta} IDK ${c.idk}: ${status}`);
  }
  if (d.totals) parts.push(d.totals.ok ? 'totals ok' : 'totals MISMATCH');
  const out = [`  DTE ${d.slug ?? '(unreadable)'}: ${d.valid ? 'ok' : 'FAIL'} — ${parts.join(', ')}`];
  for (const e of d.errors) out.push(`    error [${e.code}] ${e.message}`);
  for (const w of d.warnings) out.push(`    warning: ${w}`);
  return out;
}
