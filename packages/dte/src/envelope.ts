/**
 * EnvioDTE / EnvioBOLETA envelopes (sii-spec §8): signed DTEs are spliced byte for byte (never
 * re-serialized), the Carátula is written, and SetDTE is signed in the final envelope context
 * (xmlns + xmlns:xsi), which is how the SII verifies it.
 */
import { TimbreError } from './errors.js';
import { canonicalize } from './xml/c14n.js';
import { parseXml, findAll, attr } from './xml/parse.js';
import { buildSignature } from './dsig.js';
import { escapeText, XML_DECLARATION } from './xml/text.js';
import { normalizeRut, RUT_SII } from './rut.js';
import { isBoleta } from './tipos.js';
import type { SigningKey } from './signing-key.js';

export const NS_SII = 'http://www.sii.cl/SiiDte';
export const NS_XSI = 'http://www.w3.org/2001/XMLSchema-instance';

export type EnvelopeKind = 'EnvioDTE' | 'EnvioBOLETA';

/** EnvioDTE_v10.xsd: ≤2000 DTE, ≤20 SubTotDTE. EnvioBOLETA_v11.xsd: ≤500 DTE, ≤2 SubTotDTE. */
export const ENVELOPE_LIMITS: Record<EnvelopeKind, { maxDte: number; schema: string }> = {
  EnvioDTE: { maxDte: 2000, schema: 'EnvioDTE_v10.xsd' },
  EnvioBOLETA: { maxDte: 500, schema: 'EnvioBOLETA_v11.xsd' },
};

export interface Caratula {
  rutEmisor: string;
  /** The certificate holder who signs and sends (from the certificate). */
  rutEnvia: string;
  /** 60803000-K for the SII; the buyer's RUT for the copy sent to the buyer (intercambio). */
  rutReceptor: string;
  /** Company's authorization: date and number (0 in certificación). */
  fchResol: string;
  nroResol: number;
  tmstFirmaEnv: string;
}

export interface EnvelopeDte {
  /** The signed standalone DTE as text (an XML declaration, if present, is dropped). */
  xml: string;
  tipoDte: number;
  /**
   * Canonical form of the standalone `<DTE>` element, when the caller has it (Timbre-built DTEs):
   * it lets the envelope be signed without parsing. Absent: the envelope is parsed and canonicalized.
   */
  canonical?: string;
}

export interface BuildEnvelopeOptions {
  dtes: EnvelopeDte[];
  caratula: Caratula;
  key: SigningKey;
  /** Defaults to EnvioBOLETA when every DTE is a boleta, EnvioDTE otherwise. */
  kind?: EnvelopeKind;
  setId?: string;
}

export interface BuiltEnvelope {
  kind: EnvelopeKind;
  xml: string;
  setId: string;
}

const DTE_OPEN_NS = `<DTE xmlns="${NS_SII}" `;

/** Where the SII envelope goes: 'sii' → RutReceptor 60803000-K; 'receiver' → the buyer. */
export function caratulaRutReceptor(target: 'sii' | 'receiver', rutRecep?: string): string {
  if (target === 'sii') return RUT_SII;
  if (!rutRecep) throw new TimbreError('ERR_ENVELOPE_INVALID', 'a receiver envelope needs the buyer RUT', { field: 'caratula.rutReceptor' });
  return normalizeRut(rutRecep, 'caratula.rutReceptor');
}

export function buildEnvelope(opts: BuildEnvelopeOptions): BuiltEnvelope {
  const { dtes, key } = opts;
  if (dtes.length === 0) throw new TimbreError('ERR_ENVELOPE_INVALID', 'an envelope needs at least one DTE', { field: 'dtes' });
  const boletas = dtes.filter((d) => isBoleta(d.tipoDte as never)).length;
  const kind: EnvelopeKind = opts.kind ?? (boletas === dtes.length ? 'EnvioBOLETA' : 'EnvioDTE');
  if (kind === 'EnvioDTE' && boletas > 0) {
    throw new TimbreError('ERR_ENVELOPE_INVALID', 'boletas (39/41) travel only in EnvioBOLETA', { field: 'dtes' });
  }
  if (kind === 'EnvioBOLETA' && boletas !== dtes.length) {
    throw new TimbreError('ERR_ENVELOPE_INVALID', 'EnvioBOLETA holds only boletas (39/41)', { field: 'dtes' });
  }
  const limit = ENVELOPE_LIMITS[kind].maxDte;
  if (dtes.length > limit) {
    throw new TimbreError('ERR_ENVELOPE_INVALID', `${kind} holds at most ${limit} DTE (got ${dtes.length})`, { field: 'dtes', expected: limit, actual: dtes.length });
  }
  const setId = opts.setId ?? 'SetDoc';
  const c = opts.caratula;

  // SubTotDTE, one per type in first-seen order.
  const counts = new Map<number, number>();
  for (const d of dtes) counts.set(d.tipoDte, (counts.get(d.tipoDte) ?? 0) + 1);
  const maxSub = kind === 'EnvioDTE' ? 20 : 2;
  if (counts.size > maxSub) throw new TimbreError('ERR_ENVELOPE_INVALID', `${kind} allows at most ${maxSub} document types`, { field: 'dtes' });
  let subTot = '';
  for (const [tipo, n] of counts) subTot += `<SubTotDTE>\n<TpoDTE>${tipo}</TpoDTE>\n<NroDTE>${n}</NroDTE>\n</SubTotDTE>\n`;

  const caratula =
    `<Caratula version="1.0">\n` +
    `<RutEmisor>${escapeText(normalizeRut(c.rutEmisor, 'caratula.rutEmisor'))}</RutEmisor>\n` +
    `<RutEnvia>${escapeText(normalizeRut(c.rutEnvia, 'caratula.rutEnvia'))}</RutEnvia>\n` +
    `<RutReceptor>${escapeText(normalizeRut(c.rutReceptor, 'caratula.rutReceptor'))}</RutReceptor>\n` +
    `<FchResol>${escapeText(c.fchResol)}</FchResol>\n` +
    `<NroResol>${Math.trunc(c.nroResol)}</NroResol>\n` +
    `<TmstFirmaEnv>${escapeText(c.tmstFirmaEnv)}</TmstFirmaEnv>\n` +
    subTot +
    `</Caratula>`;

  const bodies = dtes.map((d) => stripDeclaration(d.xml));
  const open =
    `<${kind} xmlns="${NS_SII}" xmlns:xsi="${NS_XSI}" xsi:schemaLocation="${NS_SII} ${ENVELOPE_LIMITS[kind].schema}" version="1.0">\n` +
    `<SetDTE ID="${setId}">\n`;
  const setBody = `${caratula}\n${bodies.join('\n')}\n`;

  let canonicalSet: string;
  if (dtes.every((d) => d.canonical !== undefined && d.canonical.startsWith(DTE_OPEN_NS))) {
    // Fast path: in the envelope's context the DTE's own xmlns is redundant and C14N drops it.
    const inner = dtes.map((d) => `<DTE ${(d.canonical as string).slice(DTE_OPEN_NS.length)}`).join('\n');
    canonicalSet = `<SetDTE xmlns="${NS_SII}" xmlns:xsi="${NS_XSI}" ID="${setId}">\n${caratula}\n${inner}\n</SetDTE>`;
  } else {
    const doc = parseXml(`${open}${setBody}</SetDTE>\n</${kind}>`, { maxBytes: Number.MAX_SAFE_INTEGER });
    const set = findAll(doc.root, 'SetDTE').find((e) => attr(e, 'ID') === setId);
    if (!set) throw new TimbreError('ERR_ENVELOPE_INVALID', 'SetDTE not found after assembly');
    canonicalSet = canonicalize(set, { mode: 'in-context' });
  }
  const signature = buildSignature({
    referenceUri: `#${setId}`,
    canonicalReferenced: canonicalSet,
    inheritedNs: [{ prefix: 'xsi', uri: NS_XSI }],
    key,
  });
  const xml = `${XML_DECLARATION}\n${open}${setBody}</SetDTE>\n${signature}\n</${kind}>\n`;
  return { kind, xml, setId };
}

function stripDeclaration(xml: string): string {
  let s = xml;
  if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
  s = s.trimStart();
  if (s.startsWith('<?xml')) {
    const end = s.indexOf('?>');
    s = s.slice(end + 2);
  }
  return s.trim();
}
