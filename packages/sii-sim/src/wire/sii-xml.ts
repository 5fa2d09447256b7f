/**
 * The SII's own answer documents: `SII:RESPUESTA` (inside the SOAP string of the DTEWS services and
 * as the body of the boleta REST seed/token), `RECEPCIONDTE` (DTEUpload) and the HTML pages the
 * SII answers to browsers and during maintenance.
 */
import { chileParts } from '../clock.js';
import { xmlText } from './soap.js';

export type Fields = ReadonlyArray<readonly [string, string | number]>;

const fields = (f: Fields): string => f.map(([k, v]) => `<${k}>${xmlText(String(v))}</${k}>`).join('');

/**
 * `<SII:RESPUESTA xmlns:SII="http://www.sii.cl/XMLSchema">` with RESP_BODY and RESP_HDR in the
 * given order (the SII is not consistent: seed/token answers put the body first; sii-spec §9).
 */
export function respuesta(opts: { hdr: Fields; body?: Fields; bodyFirst?: boolean; declaration?: string }): string {
  const hdr = `<SII:RESP_HDR>${fields(opts.hdr)}</SII:RESP_HDR>`;
  const body = opts.body ? `<SII:RESP_BODY>${fields(opts.body)}</SII:RESP_BODY>` : '';
  const inner = opts.bodyFirst === false ? hdr + body : body + hdr;
  return `${opts.declaration ?? '<?xml version="1.0" encoding="UTF-8"?>'}<SII:RESPUESTA xmlns:SII="http://www.sii.cl/XMLSchema">${inner}</SII:RESPUESTA>`;
}

/** NUM_ATENCION as the SII writes it: `532 ( 2004/06/14 16:44:20)`. */
export function numAtencion(n: number, now: number): string {
  const p = chileParts(now);
  return `${n} ( ${p.y}/${p.mo}/${p.d} ${p.h}:${p.mi}:${p.s})`;
}

/** DTEUpload's answer (sii-spec §10; layout of a real capture). */
export function recepcionDte(r: {
  rutSender?: string;
  rutCompany?: string;
  file?: string;
  timestamp: string;
  status: number;
  trackId?: string;
  errors?: string[];
}): string {
  const lines = ['<?xml version="1.0"?>', '<RECEPCIONDTE>'];
  if (r.rutSender !== undefined) lines.push(` <RUTSENDER>${xmlText(r.rutSender)}</RUTSENDER>`);
  if (r.rutCompany !== undefined) lines.push(` <RUTCOMPANY>${xmlText(r.rutCompany)}</RUTCOMPANY>`);
  if (r.file !== undefined) lines.push(` <FILE>${xmlText(r.file)}</FILE>`);
  lines.push(` <TIMESTAMP>${xmlText(r.timestamp)}</TIMESTAMP>`);
  lines.push(` <STATUS>${r.status}</STATUS>`);
  if (r.trackId !== undefined) lines.push(` <TRACKID>${xmlText(r.trackId)}</TRACKID>`);
  if (r.errors && r.errors.length > 0) {
    lines.push(' <DETAIL>');
    for (const e of r.errors) lines.push(`<ERROR>${xmlText(e)}</ERROR>`);
    lines.push(' </DETAIL>');
  }
  lines.push('</RECEPCIONDTE>', '');
  return lines.join('\n');
}

const page = (title: string, body: string): string =>
  '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">\n' +
  `<html><head><meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1"><title>${xmlText(title)}</title></head>\n` +
  `<body bgcolor="#FFFFFF"><table width="600" align="center"><tr><td>${body}</td></tr></table></body></html>\n`;

/** What DTEUpload shows a browser (a User-Agent without `PROG 1.0`). */
export function uploadHtml(r: { status: number; trackId?: string; message: string }): string {
  return page(
    'SII - Envio de Documentos Tributarios Electronicos',
    '<h3>ENVIO DE DOCUMENTOS TRIBUTARIOS ELECTRONICOS</h3>\n' +
      `<p>${xmlText(r.message)}</p>\n` +
      (r.trackId ? `<p>Identificador de env&iacute;o: <b>${xmlText(r.trackId)}</b></p>\n` : '') +
      `<p>Estado: ${r.status}</p>\n<p><a href="https://www.sii.cl">Volver</a></p>`,
  );
}

/** The SII's maintenance page. */
export function maintenanceHtml(): string {
  return page(
    'SII - Servicio no disponible',
    '<h3>Servicio de Impuestos Internos</h3>\n<p>Estimado contribuyente: en este momento el servicio no se encuentra disponible por mantenci&oacute;n programada.</p>\n<p>Por favor intente m&aacute;s tarde.</p>',
  );
}

/** What the SII's web front answers when a back end fails (LibreDTE retries on this body). */
export const ERROR_500_BODY = '<html><head><title>Error 500</title></head><body><h1>Error 500</h1><p>Internal Server Error</p></body></html>\n';
