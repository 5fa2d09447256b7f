/**
 * Emission pipeline for one document: choose its CAF → stamp the TED → write the Documento →
 * sign it standalone (`<DTE xmlns="http://www.sii.cl/SiiDte">`, default namespace only) → the
 * signed DTE text plus its canonical form (so envelopes can be signed without re-parsing).
 */
import { TimbreError } from './errors.js';
import type { Dte, DteKey } from './model.js';
import { dteKeyOf, dteSlug } from './model.js';
import type { Caf } from './caf.js';
import { checkCafFor } from './caf.js';
import { stampTed } from './ted.js';
import { writeDocumento } from './dte-xml/write.js';
import { buildSignature } from './dsig.js';
import { canonicalize } from './xml/c14n.js';
import { parseXml } from './xml/parse.js';
import { encodeLatin1, XML_DECLARATION, type NonLatin1Policy } from './xml/text.js';
import { documentoElement, type TipoDte } from './tipos.js';
import type { SigningKey } from './signing-key.js';
import { siiTimestamp } from './time.js';
import { NS_SII } from './envelope.js';
import { formatDecimal } from './amounts.js';
import { isExportacion } from './tipos.js';

export interface Signer {
  /** The certificate holder's RUT (RutEnvia). */
  rut: string;
  signingKey: SigningKey;
}

export interface EmitOptions {
  cafs: readonly Caf[];
  signer: Signer;
  /** Time of stamping and signing (TSTED, TmstFirma). Default: now, in Chilean local time. */
  now?: Date | string;
  nonLatin1?: NonLatin1Policy;
}

export interface EmittedDte {
  key: DteKey;
  slug: string;
  /** Documento/@ID, e.g. `T33F12`. */
  id: string;
  dte: Dte;
  /** The standalone signed DTE, with its XML declaration (encode with `toBytes`). */
  xml: string;
  /** C14N of the standalone `<DTE>` element (used to sign envelopes without parsing). */
  canonical: string;
  /** The TED element as written (what the PDF417 barcode carries). */
  ted: string;
  timestamp: string;
}

/**
 * Anything in a TED's text that C14N would write differently: an entity other than &amp; &lt; &gt;,
 * a CR, a '>' in text, a single-quoted attribute. Without them the TED is already canonical.
 */
const NON_CANONICAL = /&(?!amp;|lt;|gt;)|\r|>[^<]*>|='/;

/** ISO-8859-1 bytes of an emitted XML text. */
export const toBytes = (xml: string): Buffer => encodeLatin1(xml);

/** Documento/@ID convention: xs:ID (NCName), unique per issuer, type and folio. */
export const documentoId = (tipoDte: number, folio: number): string => `T${tipoDte}F${folio}`;

export function findCaf(cafs: readonly Caf[], key: DteKey): Caf | undefined {
  return cafs.find((c) => c.tipoDte === key.tipoDte && c.rutEmisor === key.rutEmisor && key.folio >= c.desde && key.folio <= c.hasta);
}

/** Stamp and sign one document whose folio is already assigned. */
export function emitDte(dte: Dte, opts: EmitOptions): EmittedDte {
  const key = dteKeyOf(dte);
  if (!Number.isInteger(key.folio) || key.folio <= 0) {
    throw new TimbreError('ERR_INPUT_INVALID', 'the document has no folio', { field: 'encabezado.idDoc.folio' });
  }
  const caf = findCaf(opts.cafs, key) ?? opts.cafs.find((c) => c.tipoDte === key.tipoDte) ?? opts.cafs[0];
  if (!caf) throw new TimbreError('ERR_CAF_WRONG_TIPO', `no CAF for type ${key.tipoDte}`, { field: 'caf' });
  const { idDoc, receptor, totales } = dte.encabezado;
  checkCafFor(caf, { rutEmisor: key.rutEmisor, tipoDte: key.tipoDte, folio: key.folio, fecha: idDoc.fchEmis });

  const timestamp = siiTimestamp(opts.now ?? new Date());
  const id = documentoId(key.tipoDte, key.folio);
  const ted = stampTed(
    {
      rutEmisor: key.rutEmisor,
      tipoDte: key.tipoDte,
      folio: key.folio,
      fchEmis: idDoc.fchEmis,
      rutRecep: receptor.rutRecep,
      rznSocRecep: receptor.rznSocRecep,
      mntTotal: isExportacion(key.tipoDte) ? formatDecimal(totales.mntTotal, 4) : totales.mntTotal,
      it1: dte.detalle[0]?.nmbItem ?? '',
      tsted: timestamp,
    },
    caf,
  );
  const documento = writeDocumento(dte, {
    id,
    tedXml: ted.xml,
    tmstFirma: timestamp,
    ...(opts.nonLatin1 ? { nonLatin1: opts.nonLatin1 } : {}),
  });

  // The TED may be written with entities C14N would not use (&apos; in RSR, as the SII expects
  // in the DD); the Documento digest is over the canonical form.
  const tedCanonical = NON_CANONICAL.test(ted.xml) ? canonicalize(parseXml(ted.xml).root, { mode: 'none' }) : ted.xml;
  const documentoCanonical = tedCanonical === ted.xml ? documento : documento.replace(ted.xml, tedCanonical);
  const element = documentoElement(key.tipoDte as TipoDte);
  const withNs = `<${element} xmlns="${NS_SII}"${documentoCanonical.slice(element.length + 1)}`;
  const signature = buildSignature({ referenceUri: `#${id}`, canonicalReferenced: withNs, key: opts.signer.signingKey });

  const open = `<DTE xmlns="${NS_SII}" version="1.0">\n`;
  const xml = `${XML_DECLARATION}\n${open}${documento}\n${signature}\n</DTE>\n`;
  const canonical = `${open}${documentoCanonical}\n${signature}\n</DTE>`;
  return { key, slug: dteSlug(key), id, dte, xml, canonical, ted: ted.xml, timestamp };
}

/**
 * In-memory folio allocation from the CAFs at hand, in order (for the CLI and tests; the DTE
 * service allocates from its database). Each CAF range is consumed from `desde` (or `start`).
 */
export function createFolioAllocator(cafs: readonly Caf[], start?: number): (rutEmisor: string, tipoDte: number) => number {
  const next = new Map<Caf, number>();
  return (rutEmisor, tipoDte) => {
    const candidates = cafs.filter((c) => c.tipoDte === tipoDte && c.rutEmisor === rutEmisor).sort((a, b) => a.desde - b.desde);
    if (candidates.length === 0) {
      throw new TimbreError('ERR_CAF_WRONG_TIPO', `no CAF for ${rutEmisor} type ${tipoDte}`, { field: 'caf', expected: tipoDte });
    }
    for (const c of candidates) {
      const n = next.get(c) ?? Math.max(c.desde, start ?? c.desde);
      if (n <= c.hasta) {
        next.set(c, n + 1);
        return n;
      }
    }
    throw new TimbreError('ERR_CAF_FOLIO_OUT_OF_RANGE', `the CAFs for type ${tipoDte} have no folios left`, { field: 'caf' });
  };
}
