/** What a caller may ask of the printed representation. */
export type PdfFormat = 'letter' | 'a4' | 'thermal';
export const PDF_FORMATS: readonly PdfFormat[] = ['letter', 'a4', 'thermal'];

/** Types with a cedible copy (Ley 19.983): facturas, factura de compra, guía de despacho. */
export const CEDIBLE_TIPOS: readonly number[] = [33, 34, 46, 52];

export interface PdfOptions {
  /** Paper: letter (default), A4, or an 80 mm thermal roll (height follows the content). */
  format?: PdfFormat;
  /**
   * Add the cedible copy (the Ley 19.983 acuse de recibo box, "CEDIBLE" / "CEDIBLE CON SU FACTURA"
   * for guías) after the original. Only for CEDIBLE_TIPOS; other types → ERR_INPUT_INVALID (field
   * `cedible`).
   */
  cedible?: boolean;
  /** The issuer's logo, PNG or JPEG bytes. */
  logo?: Uint8Array;
  /** NroResol / FchResol of the issuer's SII authorization; read from an EnvioDTE carátula when absent. */
  resolucion?: { numero: number; fecha: string };
  /** The unit under the red box, e.g. "SANTIAGO ORIENTE"; derived from the issuer's commune when absent. */
  oficinaSii?: string;
  /** Boletas: where the receiver verifies the document (default www.sii.cl). */
  verificationUrl?: string;
}
