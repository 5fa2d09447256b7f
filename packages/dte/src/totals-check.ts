/**
 * Totals check of a received (or any parsed) document: recompute line amounts and totals from the
 * lines with the same rules used for emission, and compare with what the document states.
 */
import type { Dte, Totales } from './model.js';
import { computeTotals } from './totals.js';
import { formatDecimal } from './amounts.js';
import { isBoleta } from './tipos.js';

export interface TotalsMismatch {
  /** Model path, e.g. `totales.mntTotal` or `detalle[2].montoItem`. */
  field: string;
  expected: number;
  actual: number;
}

export interface TotalsCheck {
  ok: boolean;
  mismatches: TotalsMismatch[];
}

const TOTAL_KEYS: (keyof Totales)[] = ['mntNeto', 'mntExe', 'iva', 'ivaNoRet', 'montoNf', 'mntTotal'];

/**
 * Compare stated amounts with the recomputed ones. Gross-priced documents (boletas, MntBruto=1)
 * derive neto = round(bruto / 1.19) and IVA = bruto − neto, where issuers that split per line land
 * one peso away; that 1-peso difference on MntNeto/IVA is tolerated (sii-spec §3.3), nothing else.
 * Throws when the document cannot be recomputed (e.g. an unknown tax code): callers report it.
 */
export function checkTotals(dte: Dte): TotalsCheck {
  const computed = computeTotals(dte).dte;
  const mismatches: TotalsMismatch[] = [];
  const differs = (a: number, b: number, tolerance = 0) => (tolerance === 0 ? formatDecimal(a, 4) !== formatDecimal(b, 4) : Math.abs(a - b) > tolerance + 1e-9);

  dte.detalle.forEach((d, i) => {
    const c = computed.detalle[i];
    if (c && differs(d.montoItem, c.montoItem)) mismatches.push({ field: `detalle[${i}].montoItem`, expected: c.montoItem, actual: d.montoItem });
  });
  const gross = isBoleta(dte.encabezado.idDoc.tipoDte) || dte.encabezado.idDoc.mntBruto === 1;
  const stated = dte.encabezado.totales;
  const calc = computed.encabezado.totales;
  for (const key of TOTAL_KEYS) {
    const s = stated[key];
    if (typeof s !== 'number') continue;
    const c = typeof calc[key] === 'number' ? (calc[key] as number) : 0;
    const tolerance = gross && (key === 'mntNeto' || key === 'iva') ? 1 : 0;
    if (differs(s, c, tolerance)) mismatches.push({ field: `totales.${key}`, expected: c, actual: s });
  }
  return { ok: mismatches.length === 0, mismatches };
}
