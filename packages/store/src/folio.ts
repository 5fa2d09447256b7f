import { addCalendarMonths, cafExpires, isIsoDate, Rut, siiDate, siiTimestamp, TimbreError } from '@timbre/dte';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Database } from './database.js';

export interface AllocateFolioRequest {
  rutEmisor: string;
  tipoDte: number;
  /** Issue date (`YYYY-MM-DD`, or a timestamp whose first 10 characters are one): decides expiry. */
  fecha: string;
}

export interface AllocatedFolio {
  folio: number;
  cafId: number;
}

/** First date a CAF may no longer be used: FA + 6 calendar months for 33/43/46/56/61, else undefined. */
export function cafExpiresAt(tipoDte: number, fechaAutorizacion: string): string | undefined {
  return cafExpires(tipoDte) ? addCalendarMonths(fechaAutorizacion, 6) : undefined;
}

interface CafCandidate {
  id: number;
  desde: number;
  hasta: number;
  next_folio: number;
  fecha_autorizacion: string;
}

/**
 * Hand out the next folio for an issuer and type, atomically, on SQLite and PostgreSQL alike.
 *
 * The CAFs of that issuer/type with folios left are taken lowest `desde` first; those not usable
 * at `fecha` (expired by the 6-month rule, or authorised after `fecha`) are skipped. The folio is
 * taken with ONE guarded statement,
 * `UPDATE caf SET next_folio = next_folio + 1 WHERE id = ? AND next_folio <= hasta RETURNING next_folio - 1`,
 * so that two callers can never get the same folio: PostgreSQL row-locks and re-checks the WHERE
 * of a concurrently updated row (READ COMMITTED), SQLite takes the database write lock for the
 * statement (waiting up to busy_timeout for other processes). When the guard fails because another
 * caller took the last folio of that CAF, the CAFs are read again and the next one is tried. A folio
 * is only consumed when the statement succeeds, so the folios handed out are consecutive within a
 * CAF. (This is `allocateFolios` with a count of 1.)
 *
 * Errors (TimbreError, naming RUT and type): ERR_CAF_FOLIO_OUT_OF_RANGE when no CAF has folios
 * left, ERR_CAF_EXPIRED when the only CAFs with folios left are expired at `fecha`,
 * ERR_CAF_NOT_YET_VALID when they are authorised after `fecha`.
 *
 * `db` may be a transaction, so that a failed caller rolls the folio back with its DTE row. On
 * SQLite shared by several processes, a (deferred) transaction that reads before writing may fail
 * with SQLITE_BUSY instead of waiting: there, allocate outside a transaction or retry.
 */
export async function allocateFolio(db: Kysely<Database>, req: AllocateFolioRequest): Promise<AllocatedFolio> {
  const [run] = await allocateFolios(db, req, 1);
  if (run === undefined) throw new Error('allocateFolios returned no folio'); // never: it throws instead
  return { folio: run.desde, cafId: run.cafId };
}

/** `count` consecutive folios of one CAF: `desde`, `desde + 1`, … `desde + count - 1`. */
export interface AllocatedFolioRun {
  cafId: number;
  desde: number;
  count: number;
}

/**
 * Hand out up to `count` folios for an issuer and type at once (a batch), with the same rules and
 * errors as `allocateFolio`: CAFs in `desde` order, unusable ones at `fecha` skipped, and each run
 * taken with ONE guarded statement per CAF,
 * `UPDATE caf SET next_folio = next_folio + k WHERE id = ? AND next_folio + k - 1 <= hasta RETURNING next_folio - k`,
 * where `k` is what the caller still needs, at most what that CAF had left when it was read. The
 * guard makes the run all-or-nothing: when another caller took folios of that CAF in between, the
 * CAFs are read again and the run is retried with the smaller `k` (each retry means someone else
 * consumed folios, so this ends). What one CAF cannot give is taken from the next one.
 *
 * Returns the runs in allocation order (their counts add up to `count`, or to fewer when every
 * usable CAF ran out: the caller decides what happens to the rest). Throws the allocateFolio errors
 * only when not a single folio is left. Folios handed out are consecutive within a CAF and never
 * handed out twice; in a transaction they roll back with it.
 */
export async function allocateFolios(db: Kysely<Database>, req: AllocateFolioRequest, count: number): Promise<AllocatedFolioRun[]> {
  const rut = Rut.parse(req.rutEmisor, { field: 'rutEmisor' }).canonical;
  const tipoDte = req.tipoDte;
  if (!Number.isInteger(tipoDte) || tipoDte <= 0) {
    throw new TimbreError('ERR_INPUT_INVALID', `tipo ${String(tipoDte)} is not a document type`, { field: 'tipoDte', actual: tipoDte });
  }
  const fecha = typeof req.fecha === 'string' ? req.fecha.slice(0, 10) : '';
  if (!isIsoDate(fecha)) throw new TimbreError('ERR_INPUT_INVALID', `issue date "${req.fecha}" is not YYYY-MM-DD`, { field: 'fecha', actual: req.fecha });
  if (!Number.isSafeInteger(count) || count < 1) throw new TimbreError('ERR_INPUT_INVALID', `count ${String(count)} must be a positive integer`, { field: 'count', actual: count });

  const runs: AllocatedFolioRun[] = [];
  let remaining = count;
  // Terminates: every pass either returns, throws, or had a guard fail because another caller
  // consumed folios of that CAF in between (finitely many).
  for (;;) {
    const open: CafCandidate[] = await db
      .selectFrom('caf')
      .select(['id', 'desde', 'hasta', 'next_folio', 'fecha_autorizacion'])
      .where('rut_emisor', '=', rut)
      .where('tipo_dte', '=', tipoDte)
      .whereRef('next_folio', '<=', 'hasta')
      .orderBy('desde')
      .orderBy('id')
      .execute();
    const usable = open.filter((c) => isUsableAt(tipoDte, c, fecha));
    if (usable.length === 0) {
      if (runs.length > 0) return runs; // fewer than asked: every usable CAF ran out
      throw noFolioError(rut, tipoDte, fecha, open);
    }

    for (const caf of usable) {
      const k = Math.min(remaining, Number(caf.hasta) - Number(caf.next_folio) + 1);
      if (k < 1) continue;
      const row = await db
        .updateTable('caf')
        .set((eb) => ({ next_folio: eb('next_folio', '+', k) }))
        .where('id', '=', caf.id)
        .where(sql<boolean>`next_folio + ${k - 1} <= hasta`)
        .returning(['id', sql<number>`next_folio - ${k}`.as('first')])
        .executeTakeFirst();
      if (row === undefined) break; // someone took folios of this CAF since we read it: read again
      runs.push({ cafId: Number(row.id), desde: Number(row.first), count: k });
      remaining -= k;
      if (remaining === 0) return runs;
    }
    // Here either a guard failed (read again, retry with what is left), or every usable CAF gave all
    // it had and it was not enough: the next read finds none left (returns the runs taken so far),
    // or a CAF added meanwhile.
  }
}

function isUsableAt(tipoDte: number, caf: CafCandidate, fecha: string): boolean {
  if (fecha < caf.fecha_autorizacion) return false;
  const expiresAt = cafExpiresAt(tipoDte, caf.fecha_autorizacion);
  return expiresAt === undefined || fecha < expiresAt;
}

function noFolioError(rut: string, tipoDte: number, fecha: string, open: CafCandidate[]): TimbreError {
  if (open.length === 0) {
    return new TimbreError('ERR_CAF_FOLIO_OUT_OF_RANGE', `no folios left for ${rut} type ${tipoDte}: every CAF is exhausted (or there is none)`, {
      field: 'caf',
    });
  }
  const notYet = open.filter((c) => fecha < c.fecha_autorizacion);
  if (notYet.length > 0) {
    const fa = notYet.map((c) => c.fecha_autorizacion).sort()[0];
    return new TimbreError('ERR_CAF_NOT_YET_VALID', `the CAFs with folios left for ${rut} type ${tipoDte} are authorised after ${fecha} (first: ${fa})`, {
      field: 'fecha',
      expected: `>= ${fa}`,
      actual: fecha,
      siiCode: 'TED-1-646',
    });
  }
  const expiries = open.map((c) => cafExpiresAt(tipoDte, c.fecha_autorizacion)).sort();
  return new TimbreError(
    'ERR_CAF_EXPIRED',
    `every CAF with folios left for ${rut} type ${tipoDte} expired at ${fecha} (6 months from authorisation; latest expiry ${expiries[expiries.length - 1]})`,
    { field: 'fecha', expected: `< ${expiries[expiries.length - 1]}`, actual: fecha, siiCode: 'CAF-3-517' },
  );
}

export interface CafStatusOptions {
  /** The date to judge expiry at (`YYYY-MM-DD`); default today in Chile. */
  fecha?: string;
  /** Warn when fewer usable folios than this are left for a type (default 100). */
  minFolios?: number;
  /** Warn when a CAF with folios left expires within this many days (default 30). */
  expiringWithinDays?: number;
}

export interface CafRangeStatus {
  cafId: number;
  desde: number;
  hasta: number;
  nextFolio: number;
  foliosLeft: number;
  fechaAutorizacion: string;
  expiresAt: string | undefined;
  usable: boolean;
}

export interface TipoCafStatus {
  tipoDte: number;
  /** Folios left in CAFs usable at `fecha`. */
  foliosLeft: number;
  /** The folio allocateFolio would hand out next at `fecha`, if any. */
  nextFolio: number | undefined;
  /** Earliest expiry among the usable CAFs with folios left (types with the 6-month rule). */
  expiresAt: string | undefined;
  cafs: CafRangeStatus[];
  warnings: string[];
}

/** Per document type of the issuer: folios left, next folio, expiry, and warnings. */
export async function cafStatus(db: Kysely<Database>, rutEmisor: string, options: CafStatusOptions = {}): Promise<TipoCafStatus[]> {
  const rut = Rut.parse(rutEmisor, { field: 'rutEmisor' }).canonical;
  const fecha = options.fecha ?? siiDate(siiTimestamp());
  const minFolios = options.minFolios ?? 100;
  const withinDays = options.expiringWithinDays ?? 30;
  const rows = await db
    .selectFrom('caf')
    .select(['id', 'tipo_dte', 'desde', 'hasta', 'next_folio', 'fecha_autorizacion'])
    .where('rut_emisor', '=', rut)
    .orderBy('tipo_dte')
    .orderBy('desde')
    .orderBy('id')
    .execute();

  const byTipo = new Map<number, TipoCafStatus>();
  for (const r of rows) {
    let s = byTipo.get(r.tipo_dte);
    if (s === undefined) {
      s = { tipoDte: r.tipo_dte, foliosLeft: 0, nextFolio: undefined, expiresAt: undefined, cafs: [], warnings: [] };
      byTipo.set(r.tipo_dte, s);
    }
    const left = Math.max(0, r.hasta - r.next_folio + 1);
    const expiresAt = cafExpiresAt(r.tipo_dte, r.fecha_autorizacion);
    const usable = left > 0 && isUsableAt(r.tipo_dte, r, fecha);
    s.cafs.push({ cafId: r.id, desde: r.desde, hasta: r.hasta, nextFolio: r.next_folio, foliosLeft: left, fechaAutorizacion: r.fecha_autorizacion, expiresAt, usable });
    if (!usable) continue;
    s.foliosLeft += left;
    s.nextFolio ??= r.next_folio;
    if (expiresAt !== undefined && (s.expiresAt === undefined || expiresAt < s.expiresAt)) s.expiresAt = expiresAt;
    if (expiresAt !== undefined && daysBetween(fecha, expiresAt) <= withinDays) {
      s.warnings.push(`CAF ${r.desde}-${r.hasta} expires on ${expiresAt} with ${left} folios left`);
    }
  }
  for (const s of byTipo.values()) {
    if (s.foliosLeft === 0) s.warnings.unshift(`no usable folios left for type ${s.tipoDte}`);
    else if (s.foliosLeft < minFolios) s.warnings.unshift(`only ${s.foliosLeft} folios left for type ${s.tipoDte}`);
  }
  return [...byTipo.values()];
}

function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}
