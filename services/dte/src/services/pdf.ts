/**
 * The printed representation of a stored document (`@timbre/pdf`), with the issuer's resolution and
 * logo, and the checks of an uploaded logo.
 */
import { TimbreError } from '@timbre/dte';
import { CEDIBLE_TIPOS, PDF_FORMATS, renderPdf, type PdfFormat, type PdfOptions } from '@timbre/pdf';
import { findCompany, findCompanyLogo, type Database, type LogoMediaType } from '@timbre/store';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';

export { PDF_FORMATS, type PdfFormat };

/** Largest logo accepted (bytes). */
export const LOGO_MAX_BYTES = 512 * 1024;

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * The image type of `bytes` by its magic numbers: PNG (signature followed by the IHDR chunk) or
 * JPEG (SOI followed by a marker); undefined for anything else.
 */
export function detectImageType(bytes: Uint8Array): LogoMediaType | undefined {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length >= 33 && b.subarray(0, 8).equals(PNG_MAGIC) && b.toString('latin1', 12, 16) === 'IHDR') return 'image/png';
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  return undefined;
}

/** Refuse a cedible copy for a type that has none (422 naming `cedible`), before anything is rendered. */
export function checkCedible(tipoDte: number, cedible: boolean): void {
  if (cedible && !CEDIBLE_TIPOS.includes(tipoDte)) {
    throw new TimbreError('ERR_INPUT_INVALID', `type ${tipoDte} has no cedible copy (only ${CEDIBLE_TIPOS.join(', ')})`, { field: 'cedible' });
  }
}

/**
 * Render the signed XML of one of the company's documents. The logo is optional: a stored logo the
 * renderer cannot use is logged and left out, so it never makes a document unprintable.
 */
export async function renderStoredPdf(
  db: Kysely<Database>,
  log: FastifyBaseLogger,
  args: { xml: string; rutEmisor: string; tipoDte: number; format: PdfFormat; cedible: boolean },
): Promise<Buffer> {
  checkCedible(args.tipoDte, args.cedible);
  const company = await findCompany(db, args.rutEmisor);
  const options: PdfOptions = {
    format: args.format,
    cedible: args.cedible,
    ...(company ? { resolucion: { numero: company.resolution_nro, fecha: company.resolution_fecha } } : {}),
  };
  const logo = company?.logo_type ? await findCompanyLogo(db, args.rutEmisor) : undefined;
  if (logo === undefined) return renderPdf(args.xml, options);
  try {
    return await renderPdf(args.xml, { ...options, logo: logo.data });
  } catch (e) {
    // Only a problem of the logo is worked around; anything else (the XML, the options) stands.
    if (e instanceof TimbreError && e.field !== undefined && e.field !== 'logo') throw e;
    log.warn({ rutEmisor: args.rutEmisor, code: (e as { code?: string }).code }, 'the company logo could not be used; PDF rendered without it');
    return renderPdf(args.xml, options);
  }
}
