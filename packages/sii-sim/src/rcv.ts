/**
 * Registro de aceptación o reclamo (Ley 20.956; sii-spec §14.2, RCLM v1.2): only the receiver acts,
 * only on types 33, 34 and 43, within 8 calendar days of the SII's reception (simulated clock), and
 * with the state rules: after a claim no ERM/ACD; after ACD no claim; after ERM, ACD yes, claim no.
 */
import { RCV_ACCIONES, RCV_EVENTOS_SISTEMA, type RcvAccion, type RcvCode } from './codes.js';
import type { SimContext } from './context.js';
import type { DteRecord, RcvEvent } from './state.js';

export const RCV_TIPOS = new Set([33, 34, 43]);
const WINDOW_MS = 8 * 24 * 3600_000;
const CLAIMS: ReadonlySet<string> = new Set(['RCD', 'RFP', 'RFT']);

export interface RcvDocQuery {
  rutEmisor: string | undefined;
  tipoDoc: number;
  folio: number;
}

/** The received document, or the codResp explaining why there is none. */
export function findRcvDocument(ctx: SimContext, q: RcvDocQuery, notFound: RcvCode): { dte: DteRecord } | { code: RcvCode } {
  if (!q.rutEmisor) return { code: 1 };
  if (!Number.isSafeInteger(q.folio) || q.folio <= 0) return { code: 2 };
  const dte = ctx.state.dte(q.rutEmisor, q.tipoDoc, q.folio);
  if (!dte || dte.visibleAt > ctx.clock.now()) return { code: notFound };
  return { dte };
}

export function ingresarAccion(ctx: SimContext, q: RcvDocQuery & { accion: string; rutUsuario: string }): RcvCode {
  if (!q.rutEmisor) return 1;
  if (!Number.isSafeInteger(q.folio) || q.folio <= 0) return 2;
  if (!RCV_TIPOS.has(q.tipoDoc)) return 3;
  if (!(q.accion in RCV_ACCIONES)) return 4;
  const accion = q.accion as RcvAccion;
  const found = findRcvDocument(ctx, q, 18);
  if ('code' in found) return found.code;
  const dte = found.dte;
  if (dte.fchEmis < '2017-01-14') return 10;
  if (!actsForReceiver(ctx, dte, q.rutUsuario)) return 14;
  const now = ctx.clock.now();
  if (now - dte.receivedAt > WINDOW_MS) return 8;

  const done = new Set(dte.eventos.map((e) => e.codigo));
  if (done.has(accion)) return 7;
  const claimed = [...done].some((c) => CLAIMS.has(c));
  if (CLAIMS.has(accion)) {
    if (done.has('ACD')) return 11;
    if (done.has('ERM')) return 13;
    if (accion !== 'RCD' && (done.has('RFP') || done.has('RFT'))) return 19;
    if (claimed) return 5;
  } else if (claimed) {
    return accion === 'ACD' ? 12 : 6;
  }
  dte.eventos.push({ codigo: accion, descripcion: RCV_ACCIONES[accion], rutResponsable: q.rutUsuario, fecha: now });
  return 0;
}

/**
 * Who acts for the receiver: with an authorized-signer list for the receiver company, only those
 * people; without one (the simulator's default), anyone authenticated who does not act only for
 * the issuer (i.e. is not on the issuer's list).
 */
function actsForReceiver(ctx: SimContext, dte: DteRecord, rutUsuario: string): boolean {
  const receiver = ctx.state.companies.get(dte.rutRecep);
  if (receiver?.authorizedSigners) return receiver.authorizedSigners.includes(rutUsuario);
  const issuer = ctx.state.companies.get(dte.rutEmisor);
  return !issuer?.authorizedSigners?.includes(rutUsuario);
}

export function eventosDoc(dte: DteRecord): RcvEvent[] {
  return [...dte.eventos].sort((a, b) => a.fecha - b.fecha);
}

export const descripcionEvento = (codigo: string): string =>
  (RCV_ACCIONES as Record<string, string>)[codigo] ?? (RCV_EVENTOS_SISTEMA as Record<string, string>)[codigo] ?? codigo;

/** consultarDocDteCedible: 20–25 (sii-spec §14.2). */
export function cedible(ctx: SimContext, dte: DteRecord): RcvCode {
  if (!RCV_TIPOS.has(dte.tipoDte)) return 20;
  const codes = new Set(dte.eventos.map((e) => e.codigo));
  const now = ctx.clock.now();
  const withinWindow = now - dte.receivedAt <= WINDOW_MS;
  if (dte.eventos.some((e) => e.codigo === 'NCA' && e.fecha - dte.receivedAt <= WINDOW_MS)) return 21;
  if ([...codes].some((c) => CLAIMS.has(c))) return 24;
  if (codes.has('ACD') || codes.has('ERM')) return 23;
  if (!withinWindow) return 25;
  return 22;
}
