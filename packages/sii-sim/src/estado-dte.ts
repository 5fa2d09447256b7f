/**
 * "Is this DTE known to the SII, and do its data match?" (QueryEstDte, and the boleta REST
 * `…/estado`): DOK / DNK for a received document, FAU for a folio never received (or rejected),
 * FNA for a folio no CAF authorizes; for a matching document, an accepted NC/ND that references it
 * turns DOK into ANC/AND (annuls), MMC/MMD (amounts) or TMC/TMD (text).
 */
import type { EstadoDte } from './codes.js';
import type { SimContext } from './context.js';
import type { DteRecord } from './state.js';

export interface EstadoDteQuery {
  rutEmisor: string;
  tipoDte: number;
  folio: number;
  rutReceptor: string;
  /** `YYYY-MM-DD`, or undefined when the client's date could not be read (counts as a mismatch). */
  fechaEmision: string | undefined;
  monto: number;
}

export interface EstadoDteAnswer {
  estado: EstadoDte;
  dte?: DteRecord;
  /** Which fields differ, for DNK. */
  diferencias: string[];
}

export function estadoDte(ctx: SimContext, q: EstadoDteQuery): EstadoDteAnswer {
  const now = ctx.clock.now();
  const rec = ctx.state.dte(q.rutEmisor, q.tipoDte, q.folio);
  if (!rec || rec.visibleAt > now) {
    return { estado: ctx.state.folioAutorizado(q.rutEmisor, q.tipoDte, q.folio) ? 'FAU' : 'FNA', diferencias: [] };
  }
  const diferencias: string[] = [];
  if (rec.rutRecep !== q.rutReceptor) diferencias.push(`RutReceptor ${q.rutReceptor} (registered ${rec.rutRecep})`);
  if (rec.fchEmis !== q.fechaEmision) diferencias.push(`FechaEmision ${q.fechaEmision ?? '(unreadable; DDMMAAAA expected)'} (registered ${rec.fchEmis})`);
  if (rec.mntTotal !== q.monto) diferencias.push(`Monto ${q.monto} (registered ${rec.mntTotal})`);
  if (diferencias.length > 0) return { estado: 'DNK', dte: rec, diferencias };

  // Notes that modify it: annul > amounts > text.
  let best: { rank: number; estado: EstadoDte } | undefined;
  for (const other of ctx.state.dtes.values()) {
    if ((other.tipoDte !== 56 && other.tipoDte !== 61) || other.rutEmisor !== rec.rutEmisor || other.visibleAt > now) continue;
    for (const r of other.referencias) {
      if (Number(r.tpoDocRef) !== rec.tipoDte || r.folioRef.trim() !== String(rec.folio)) continue;
      const nc = other.tipoDte === 61;
      const cand: { rank: number; estado: EstadoDte } | undefined =
        r.codRef === 1 ? { rank: 3, estado: nc ? 'ANC' : 'AND' } : r.codRef === 3 ? { rank: 2, estado: nc ? 'MMC' : 'MMD' } : r.codRef === 2 ? { rank: 1, estado: nc ? 'TMC' : 'TMD' } : undefined;
      if (cand && (!best || cand.rank > best.rank)) best = cand;
    }
  }
  return { estado: best?.estado ?? 'DOK', dte: rec, diferencias };
}

/** `DDMMAAAA` (QueryEstDte) → `YYYY-MM-DD`, undefined when it is not that form. */
export function fromDdMmAaaa(s: string): string | undefined {
  const m = /^(\d{2})(\d{2})(\d{4})$/.exec(s.trim());
  if (!m) return undefined;
  const iso = `${m[3]}-${m[2]}-${m[1]}`;
  const d = new Date(`${iso}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === iso ? iso : undefined;
}

/** Boleta REST `fechaEmision`: `DD-MM-AAAA`, `AAAA-MM-DD` or `DDMMAAAA`. */
export function fromAnyDate(s: string): string | undefined {
  const t = s.trim();
  let m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(t);
  if (m) return fromDdMmAaaa(`${m[3]}${m[2]}${m[1]}`);
  m = /^(\d{2})-(\d{2})-(\d{4})$/.exec(t);
  if (m) return fromDdMmAaaa(`${m[1]}${m[2]}${m[3]}`);
  return fromDdMmAaaa(t);
}
