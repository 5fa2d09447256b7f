/**
 * What the SII does with an uploaded envelope after STATUS 0, in its order: schema (RSC), envelope
 * signature (RFR), carátula (RCT), then every DTE on its own (accepted, accepted with reparos, or
 * rejected, each with the SII's codes), and the folio registry (DTE-3-101 / DTE-3-100). The whole
 * verdict is computed at upload time and revealed over `statusDelayMs` (see `estadoEnvio`).
 */
import {
  addCalendarMonths,
  attr,
  cafExpires,
  child,
  childElements,
  childText,
  childrenNamed,
  findAll,
  isBoleta,
  RUT_SII,
  rutFromCertificate,
  textOf,
  verifySignature,
  type DocumentVerification,
  type TipoDte,
  type XmlElement,
  type XmlVerification,
} from '@timbre/dte';
import { chileDate, daysBetween } from './clock.js';
import { CODES, observe, type EstadoEnvio, type EstadoFinal, type Observation } from './codes.js';
import type { SimContext } from './context.js';
import { dteKey, type Channel, type DocumentoResult, type DteRecord, type EnvioRecord, type Referencia } from './state.js';

export interface EnvioInput {
  trackId: string;
  channel: Channel;
  bytes: Buffer;
  sha256: string;
  fileName: string;
  rutSender: string;
  rutCompany: string;
  receivedAt: number;
  /** verifyXml of the bytes (parsed, root known). */
  report: XmlVerification;
}

const DTE_TYPES_REFERENCEABLE = new Set([33, 34, 43, 46, 52, 56, 61, 110, 111, 112]);

export async function processEnvio(ctx: SimContext, input: EnvioInput): Promise<EnvioRecord> {
  const { report } = input;
  const rec: EnvioRecord = {
    trackId: input.trackId,
    channel: input.channel,
    receivedAt: input.receivedAt,
    rutSender: input.rutSender,
    rutCompany: input.rutCompany,
    fileName: input.fileName,
    sha256: input.sha256,
    size: input.bytes.length,
    root: report.root,
    final: 'EPR',
    errores: [],
    documentos: [],
    notas: [],
    intentos: 1,
    lastAttemptAt: input.receivedAt,
  };
  const doc = report.doc;
  if (!doc) throw new Error('processEnvio needs a parsed document');
  const root = doc.root;

  // ---- 1. schema
  const xsd = await ctx.xsd.validate(input.bytes, report.root);
  if (xsd === undefined) {
    const note = ctx.xsd.note;
    if (note) rec.notas.push(note);
  } else if (!xsd.valid) {
    for (const e of xsd.errors.slice(0, 20)) rec.errores.push(observe(CODES.SCHEMA, `${xsd.schema}: ${e}`));
    if (xsd.errors.length === 0) rec.errores.push(observe(CODES.SCHEMA, `${xsd.schema}: invalid`));
  }
  for (const p of structureProblems(root, input.channel)) rec.errores.push(observe(CODES.SCHEMA, p));
  if (rec.errores.length > 0) return finish(rec, 'RSC');

  const set = child(root, 'SetDTE') as XmlElement;
  const car = child(set, 'Caratula') as XmlElement;
  const setId = attr(set, 'ID') ?? '';

  // ---- 2. envelope signature: in the envelope's own context, by a certificate valid now
  const sigEl = childElements(root).find((e) => e.local === 'Signature');
  let signerRut: string | undefined;
  if (!sigEl) {
    rec.errores.push(observe(CODES.FIRMA_ENVIO, 'the envelope has no Signature'));
  } else {
    // verifyXml has verified every signature that is not a DTE's (nor inside a TED), trying the
    // in-context C14N first. When the envelope's is the only such signature and it passed in context,
    // that report is this check's answer: canonicalizing and hashing the whole SetDTE again (about
    // 7 % of the simulator's work on a 200-document envelope) would give the same result.
    const only = report.envelopeSignatures.length === 1 ? report.envelopeSignatures[0] : undefined;
    const sig = only?.valid && only.mode === 'in-context' ? only : verifySignature(sigEl, { modes: ['in-context'] });
    if (sig.referenceUri !== `#${setId}`) {
      rec.errores.push(observe(CODES.FIRMA_ENVIO, `the envelope signature references "${sig.referenceUri}", not SetDTE (#${setId})`));
    } else if (!sig.valid) {
      rec.errores.push(observe(CODES.FIRMA_ENVIO, sig.error?.message ?? 'invalid signature'));
    } else if (sig.certificate) {
      const now = ctx.clock.now();
      if (now < Date.parse(sig.certificate.notBefore) || now > Date.parse(sig.certificate.notAfter)) {
        rec.errores.push(observe(CODES.CERTIFICADO_VENCIDO, `certificate valid ${sig.certificate.notBefore} .. ${sig.certificate.notAfter}`));
      }
    } else {
      rec.errores.push(observe(CODES.FIRMA_ENVIO, 'the envelope signature carries no readable X509Certificate'));
    }
    const certEl = findAll(sigEl, 'X509Certificate')[0];
    if (certEl) signerRut = rutFromCertificate(textOf(certEl).replace(/\s+/g, ''))?.rut;
  }
  if (rec.errores.length > 0) return finish(rec, 'RFR');

  // ---- 3. carátula
  const rutEmisor = (childText(car, 'RutEmisor') ?? '').trim().toUpperCase();
  const rutEnvia = (childText(car, 'RutEnvia') ?? '').trim().toUpperCase();
  const rutReceptor = (childText(car, 'RutReceptor') ?? '').trim().toUpperCase();
  if (rutReceptor !== RUT_SII) rec.errores.push(observe(CODES.RUT_RECEPTOR_CARATULA, `RutReceptor ${rutReceptor || '(empty)'}; envelopes sent to the SII carry ${RUT_SII}`));
  if (rutEmisor !== input.rutCompany) rec.errores.push(observe(CODES.CARATULA_EMISOR, `RutEmisor ${rutEmisor}, the upload says rutCompany ${input.rutCompany}`));
  if (rutEnvia !== input.rutSender) rec.errores.push(observe(CODES.CARATULA_ENVIA, `RutEnvia ${rutEnvia}, the upload says rutSender ${input.rutSender}`));
  if (signerRut !== undefined && signerRut !== rutEnvia) rec.errores.push(observe(CODES.CARATULA_FIRMANTE, `RutEnvia ${rutEnvia}, the envelope is signed by ${signerRut}`));
  if (signerRut === undefined) rec.errores.push(observe(CODES.CARATULA_FIRMANTE, 'the envelope signer certificate carries no RUT'));
  const dteEls = childrenNamed(set, 'DTE');
  const counted = new Map<number, number>();
  for (const d of report.documents) if (d.tipoDte !== undefined) counted.set(d.tipoDte, (counted.get(d.tipoDte) ?? 0) + 1);
  const declared = new Map<number, number>();
  for (const s of childrenNamed(car, 'SubTotDTE')) declared.set(Number(childText(s, 'TpoDTE')), Number(childText(s, 'NroDTE')));
  for (const tipo of new Set([...declared.keys(), ...counted.keys()])) {
    if ((declared.get(tipo) ?? 0) !== (counted.get(tipo) ?? 0)) {
      rec.errores.push(observe(CODES.CARATULA_SUBTOTALES, `type ${tipo}: SubTotDTE says ${declared.get(tipo) ?? 0}, the envelope holds ${counted.get(tipo) ?? 0}`));
    }
  }
  for (const d of report.documents) {
    if (d.rutEmisor && d.rutEmisor !== rutEmisor) rec.errores.push(observe(CODES.CARATULA_DTE_EMISOR, `${d.slug} is issued by ${d.rutEmisor}`));
  }
  if (rec.errores.length > 0) return finish(rec, 'RCT');

  // ---- 4. every DTE
  dteEls.forEach((el, i) => {
    const d = report.documents[i];
    if (d) rec.documentos.push(checkDocumento(ctx, rec, el, d));
  });
  return finish(rec, 'EPR');
}

function finish(rec: EnvioRecord, final: EstadoFinal): EnvioRecord {
  rec.final = final;
  return rec;
}

/** What an XSD would refuse and the rest of the pipeline needs, checked even without schemas. */
function structureProblems(root: XmlElement, channel: Channel): string[] {
  const out: string[] = [];
  const expected = channel === 'boleta' ? ['EnvioBOLETA'] : ['EnvioDTE', 'EnvioBOLETA'];
  if (!expected.includes(root.local)) return [`root element <${root.name}>: this service takes ${expected.join(' or ')}`];
  const set = child(root, 'SetDTE');
  if (!set) return [`${root.local} has no SetDTE`];
  if (!attr(set, 'ID')) out.push('SetDTE has no ID attribute');
  const car = child(set, 'Caratula');
  if (!car) out.push('SetDTE has no Caratula');
  else {
    for (const f of ['RutEmisor', 'RutEnvia', 'RutReceptor', 'FchResol', 'NroResol', 'TmstFirmaEnv']) {
      if (!childText(car, f)?.trim()) out.push(`Caratula/${f} is missing`);
    }
    if (childrenNamed(car, 'SubTotDTE').length === 0) out.push('Caratula has no SubTotDTE');
  }
  const dtes = childrenNamed(set, 'DTE');
  if (dtes.length === 0) out.push('SetDTE holds no DTE');
  for (const d of dtes) {
    const tipo = Number(findAll(d, 'TipoDTE')[0] ? textOf(findAll(d, 'TipoDTE')[0] as XmlElement).trim() : NaN);
    if (!Number.isInteger(tipo)) out.push('a DTE has no TipoDTE');
    else if (root.local === 'EnvioBOLETA' && !isBoleta(tipo as TipoDte)) out.push(`EnvioBOLETA holds a type ${tipo} document (only 39/41)`);
    else if (root.local === 'EnvioDTE' && isBoleta(tipo as TipoDte)) out.push(`EnvioDTE holds a boleta (type ${tipo}); boletas travel in EnvioBOLETA`);
  }
  return out;
}

const norm = (s: string | undefined): string => (s ?? '').trim().slice(0, 40).replace(/\s+/g, ' ').toUpperCase();

function checkDocumento(ctx: SimContext, rec: EnvioRecord, el: XmlElement, d: DocumentVerification): DocumentoResult {
  const errores: Observation[] = [];
  const dte = d.dte;
  const out: DocumentoResult = { estado: 'RECHAZADO', errores };
  if (d.tipoDte !== undefined) out.tipoDte = d.tipoDte;
  if (d.folio !== undefined) out.folio = d.folio;
  if (d.rutEmisor !== undefined) out.rutEmisor = d.rutEmisor;
  if (!dte || d.tipoDte === undefined || d.folio === undefined || !d.rutEmisor) {
    errores.push(observe(CODES.DTE_ILEGIBLE, d.errors[0]?.message));
    return out;
  }
  const { idDoc, receptor, totales } = dte.encabezado;
  out.rutRecep = receptor.rutRecep;
  out.fchEmis = idDoc.fchEmis;
  out.mntTotal = totales.mntTotal;

  // Signature of the document (tolerant namespace modes, as the SII verifies).
  const sigEl = childElements(el).find((e) => e.local === 'Signature');
  if (!d.signature?.valid) errores.push(observe(CODES.FIRMA_DTE, d.signature?.error?.message ?? 'the DTE has no Signature'));
  const company = ctx.state.companies.get(d.rutEmisor);
  if (company?.authorizedSigners && sigEl) {
    const certEl = findAll(sigEl, 'X509Certificate')[0];
    const rut = certEl ? rutFromCertificate(textOf(certEl).replace(/\s+/g, ''))?.rut : undefined;
    if (!rut || !company.authorizedSigners.includes(rut)) errores.push(observe(CODES.SIN_PERMISO_FIRMA, `signed by ${rut ?? 'a certificate without RUT'}`));
  }

  // TED against its CAF, CAF against the SII's keys, CAF rules.
  const ted = d.ted;
  if (!ted) {
    errores.push(observe(CODES.TED_FIRMA, 'the DTE has no TED'));
  } else {
    if (!ted.signatureValid) errores.push(observe(CODES.TED_FIRMA, ted.error?.message));
    if (ted.cafSignatureValid === false || ted.error?.code === 'ERR_CAF_UNTRUSTED_KEY') {
      errores.push(observe(CODES.CAF_NO_AUTORIZADO, ted.caf ? `CAF IDK ${ted.caf.idk}` : undefined));
    } else if (!ted.caf && ted.error) {
      errores.push(observe(CODES.CAF_NO_AUTORIZADO, ted.error.message));
    }
    let datos = false;
    for (const m of ted.fieldMismatches) {
      const detalle = `${m.field}: TED ${m.ted}, expected ${m.document}`;
      if (m.document.startsWith('>= CAF FA')) {
        if (m.field === 'FE') errores.push(observe(CODES.FECHA_ANTES_FA, detalle));
        else if (m.field === 'TSTED') errores.push(observe(CODES.TSTED_ANTES_FA, detalle));
      } else if (m.document.startsWith('CAF range')) errores.push(observe(CODES.FOLIO_FUERA_RANGO, detalle));
      else if (m.document.startsWith('CAF ')) errores.push(observe(CODES.CAF_OTRO, detalle));
      else if (!datos) {
        datos = true;
        errores.push(observe(CODES.TED_DATOS, detalle));
      }
    }
    const caf = ted.caf;
    if (caf && cafExpires(caf.tipoDte) && /^\d{4}-\d{2}-\d{2}$/.test(caf.fechaAutorizacion) && idDoc.fchEmis >= addCalendarMonths(caf.fechaAutorizacion, 6)) {
      errores.push(observe(CODES.CAF_VENCIDO, `FchEmis ${idDoc.fchEmis}, CAF authorized ${caf.fechaAutorizacion} (6 months for type ${caf.tipoDte})`));
    }
  }

  if (d.totals && !d.totals.ok) {
    errores.push(observe(CODES.TOTALES, d.totals.mismatches.map((m) => `${m.field}: stated ${m.actual}, lines give ${m.expected}`).join('; ')));
  }

  const received = chileDate(rec.receivedAt);
  if (/^\d{4}-\d{2}-\d{2}$/.test(idDoc.fchEmis) && Math.abs(daysBetween(idDoc.fchEmis, received)) > 3) {
    errores.push(observe(CODES.FECHA_FUERA_PLAZO, `FchEmis ${idDoc.fchEmis}, received ${received}`));
  }

  const referencias: Referencia[] = (dte.referencia ?? []).map((r) => ({
    tpoDocRef: r.tpoDocRef,
    folioRef: r.folioRef,
    ...(r.codRef !== undefined ? { codRef: r.codRef } : {}),
    ...(r.rutOtr !== undefined ? { rutOtr: r.rutOtr } : {}),
    ...(r.indGlobal === 1 ? { indGlobal: true } : {}),
  }));
  if (ctx.config.checkReferences) {
    for (const r of referencias) {
      const tipo = Number(r.tpoDocRef);
      if (!DTE_TYPES_REFERENCEABLE.has(tipo) || r.indGlobal || r.rutOtr || !/^\d{1,10}$/.test(r.folioRef.trim())) continue;
      if (!ctx.state.dte(d.rutEmisor, tipo, Number(r.folioRef))) {
        errores.push(observe(CODES.REFERENCIA_INEXISTENTE, `references T${tipo}F${Number(r.folioRef)}, which the SII has not received`));
      }
    }
  }

  const fingerprint = [d.rutEmisor, d.tipoDte, d.folio, idDoc.fchEmis, receptor.rutRecep, totales.mntTotal, norm(receptor.rznSocRecep), norm(dte.detalle[0]?.nmbItem)].join('|');
  const previous = ctx.state.dte(d.rutEmisor, d.tipoDte, d.folio);
  if (previous) {
    if (previous.fingerprint === fingerprint) errores.push(observe(CODES.DTE_REPETIDO, `first received in envío ${previous.trackId}`));
    else errores.push(observe(CODES.FOLIO_REUSADO, `folio ${d.folio} was received in envío ${previous.trackId} with other data`));
  }

  out.estado = errores.some((e) => e.nivel === 'rechazo') ? 'RECHAZADO' : errores.length > 0 ? 'REPARO' : 'ACEPTADO';
  if (out.estado === 'RECHAZADO') return out;

  const record: DteRecord = {
    rutEmisor: d.rutEmisor,
    tipoDte: d.tipoDte,
    folio: d.folio,
    rutRecep: receptor.rutRecep,
    fchEmis: idDoc.fchEmis,
    mntTotal: totales.mntTotal,
    fingerprint,
    estado: out.estado,
    trackId: rec.trackId,
    receivedAt: rec.receivedAt,
    visibleAt: rec.receivedAt + ctx.config.statusDelayMs,
    referencias,
    eventos: [],
  };
  ctx.state.dtes.set(dteKey(d.rutEmisor, d.tipoDte, d.folio), record);
  const caf = ted?.caf;
  if (caf && !ctx.state.folioAutorizado(caf.rutEmisor, caf.tipoDte, d.folio)) {
    ctx.state.cafs.push({ ...caf, issuedAt: rec.receivedAt, source: 'upload' });
  }
  // A credit note is an RCV event of the document it references (NCA annuls, ENC otherwise).
  if (d.tipoDte === 61) {
    for (const r of referencias) {
      const target = /^\d{1,10}$/.test(r.folioRef.trim()) ? ctx.state.dte(d.rutEmisor, Number(r.tpoDocRef), Number(r.folioRef)) : undefined;
      if (!target) continue;
      const codigo = r.codRef === 1 ? 'NCA' : 'ENC';
      target.eventos.push({
        codigo,
        descripcion: codigo === 'NCA' ? 'Recepcion de NC de anulacion que referencia al documento' : 'Recepcion de NC, distinta de anulacion, que referencia al documento',
        rutResponsable: d.rutEmisor,
        fecha: rec.receivedAt,
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The visible state of an envío over time

const STAGES: EstadoEnvio[] = ['REC', 'SOK', 'FOK', 'CRT', 'EPR'];
const FINAL_STAGE: Record<EstadoFinal, number> = { RSC: 1, RFR: 2, RCT: 3, EPR: 4 };

/**
 * REC → SOK → FOK → CRT → EPR in four equal steps of `statusDelayMs`; a rejection replaces the
 * step where it happens (RSC at the schema step, RFR at the signature step, RCT at the carátula
 * step) and stays.
 */
export function estadoEnvio(rec: EnvioRecord, now: number, delayMs: number): EstadoEnvio {
  const last = FINAL_STAGE[rec.final];
  if (delayMs <= 0) return rec.final;
  const step = Math.min(4, Math.floor(((now - rec.receivedAt) * 4) / delayMs));
  if (step >= last) return rec.final;
  return STAGES[Math.max(0, step)] as EstadoEnvio;
}

/** Per-type counts of an EPR envío (informados = aceptados + rechazados + reparos). */
export function estadistica(rec: EnvioRecord): Array<{ tipoDte: number; informados: number; aceptados: number; rechazados: number; reparos: number }> {
  const by = new Map<number, { tipoDte: number; informados: number; aceptados: number; rechazados: number; reparos: number }>();
  for (const d of rec.documentos) {
    const tipo = d.tipoDte ?? 0;
    let s = by.get(tipo);
    if (!s) by.set(tipo, (s = { tipoDte: tipo, informados: 0, aceptados: 0, rechazados: 0, reparos: 0 }));
    s.informados++;
    if (d.estado === 'ACEPTADO') s.aceptados++;
    else if (d.estado === 'REPARO') s.reparos++;
    else s.rechazados++;
  }
  return [...by.values()];
}
