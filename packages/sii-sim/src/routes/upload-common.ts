/**
 * Reading an RFC 1867 upload (DTEUpload and the boleta REST envío share the form: rutSender,
 * dvSender, rutCompany, dvCompany, archivo) and turning a file into a recorded envío.
 */
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { verifyXml } from '@timbre/dte';
import type { FastifyRequest } from 'fastify';
import type { SimContext } from '../context.js';
import { processEnvio } from '../envio.js';
import type { Channel, EnvioRecord } from '../state.js';

export interface UploadForm {
  fields: Record<string, string>;
  file?: { name: string; data: Buffer; mimetype: string };
  /** The file exceeded `maxUploadBytes`. */
  tooLarge: boolean;
  /** The body was not a readable multipart form. */
  unreadable?: string;
}

export async function readUpload(req: FastifyRequest, maxBytes: number): Promise<UploadForm> {
  const form: UploadForm = { fields: {}, tooLarge: false };
  if (!req.isMultipart()) {
    form.unreadable = 'the request is not multipart/form-data';
    return form;
  }
  try {
    for await (const part of req.parts({ limits: { fileSize: maxBytes, files: 2, fields: 20, fieldSize: 1024 } })) {
      if (part.type === 'file') {
        let data: Buffer;
        try {
          data = await part.toBuffer();
        } catch (e) {
          if (e instanceof Error && /too large/i.test(e.message)) {
            form.tooLarge = true;
            continue;
          }
          throw e;
        }
        if (part.fieldname === 'archivo' && !form.file) form.file = { name: part.filename || 'archivo.xml', data, mimetype: part.mimetype };
      } else {
        form.fields[part.fieldname] = String(part.value ?? '');
      }
    }
  } catch (e) {
    form.unreadable = e instanceof Error ? e.message : String(e);
  }
  return form;
}

/** The file's XML bytes: gunzipped when it is gzip (LibreDTE can send `application/gzip`). */
export function fileBytes(file: { data: Buffer }): Buffer | undefined {
  if (file.data.length >= 2 && file.data[0] === 0x1f && file.data[1] === 0x8b) {
    try {
      return gunzipSync(file.data);
    } catch {
      return undefined;
    }
  }
  return file.data;
}

/** The longest line of the file (the SII gateway is line-based). */
export function longestLine(bytes: Buffer): number {
  let max = 0;
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === 0x0a) {
      max = Math.max(max, i - start);
      start = i + 1;
    }
  }
  return max;
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

export type Accepted = { ok: true; envio: EnvioRecord } | { ok: false; reason: 'unreadable' | 'root'; message: string };

/** Parse, give a track id, run the SII's processing, record. */
export async function acceptEnvio(
  ctx: SimContext,
  o: { channel: Channel; bytes: Buffer; fileName: string; rutSender: string; rutCompany: string; roots: readonly string[] },
): Promise<Accepted> {
  const report = verifyXml(o.bytes, { trustedKeys: ctx.state.allTrustedKeys() });
  if (!report.doc) return { ok: false, reason: 'unreadable', message: report.errors[0]?.message ?? 'unreadable XML' };
  if (!o.roots.includes(report.root)) return { ok: false, reason: 'root', message: `root element ${report.root}` };
  const trackId = newTrackId(ctx, o.channel);
  const hash = sha256(o.bytes);
  const envio = await processEnvio(ctx, {
    trackId,
    channel: o.channel,
    bytes: o.bytes,
    sha256: hash,
    fileName: o.fileName,
    rutSender: o.rutSender,
    rutCompany: o.rutCompany,
    receivedAt: ctx.clock.now(),
    report,
  });
  ctx.state.envios.set(trackId, envio);
  if (o.channel === 'dtews') ctx.state.uploadsByHash.set(hash, trackId);
  return { ok: true, envio };
}

/** 10 digits; DTEUpload ids may start with 0 (`0251552460`), boleta REST ids are numbers. */
function newTrackId(ctx: SimContext, channel: Channel): string {
  for (;;) {
    const id = channel === 'boleta' ? String(ctx.ids.int(1, 10)) + ctx.ids.digits(9) : ctx.ids.digits(10);
    if (!ctx.state.envios.has(id) && !/^0+$/.test(id) && ![...ctx.state.envios.keys()].some((k) => Number(k) === Number(id))) return id;
  }
}
