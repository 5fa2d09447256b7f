/** Request-level helpers shared by the routes. */
import { Rut } from '@timbre/dte';
import type { FastifyReply, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** Faults that act inside the handlers (set by the fault hook). */
    simFault: { expireToken: boolean; drop: boolean } | null;
    /** Bytes of request body actually received (counted while parsing). */
    simBodyBytes: number;
  }
}

/** Canonical RUT from number and DV fields, or undefined when malformed or the DV is wrong. */
export function rutFrom(num: string | undefined, dv: string | undefined): string | undefined {
  if (!num || !dv) return undefined;
  try {
    return Rut.parse(`${num.trim()}-${dv.trim()}`).canonical;
  } catch {
    return undefined;
  }
}

export const forceExpire = (req: FastifyRequest): boolean => req.simFault?.expireToken === true;

export const userAgent = (req: FastifyRequest): string => String(req.headers['user-agent'] ?? '');

export function sendXml(reply: FastifyReply, body: string, status = 200, contentType = 'text/xml;charset=utf-8'): FastifyReply {
  return reply.code(status).header('content-type', contentType).send(body);
}

/** Send text as ISO-8859-1 bytes (what the SII's CGI front answers). */
export function sendLatin1(reply: FastifyReply, body: string, contentType: string, status = 200): FastifyReply {
  return reply
    .code(status)
    .header('content-type', `${contentType}; charset=ISO-8859-1`)
    .send(Buffer.from(Array.from(body, (c) => (c.charCodeAt(0) > 0xff ? '?' : c)).join(''), 'latin1'));
}
