/**
 * The naive baseline the evaluation compares against: exact RUT string (after canonical form) and
 * exact montoTotal, first come first served, for ERP documents and RCV entries alike; no notes.
 */
import { canonicalRut } from './normalize.js';
import type { ReconcileInput } from './types.js';

export interface BaselineLink {
  received: string;
  expected?: string;
  rcv?: string;
}

export function naiveReconcile(input: ReconcileInput): BaselineLink[] {
  const out: BaselineLink[] = [];
  const usedE = new Set<number>();
  const usedC = new Set<number>();
  const exp = input.expected ?? [];
  const rcv = input.rcv ?? [];
  for (const r of input.received) {
    const id = r.id ?? `${canonicalRut(r.rutEmisor)}-${r.tipoDte}-${r.folio}`;
    const rut = canonicalRut(r.rutEmisor);
    const ei = exp.findIndex((e, i) => !usedE.has(i) && canonicalRut(e.rutProveedor) === rut && e.montoTotal === r.montoTotal);
    if (ei >= 0) {
      usedE.add(ei);
      out.push({ received: id, expected: exp[ei]!.id });
    }
    const ci = rcv.findIndex((c, i) => !usedC.has(i) && canonicalRut(c.rutEmisor) === rut && c.montoTotal === r.montoTotal);
    if (ci >= 0) {
      usedC.add(ci);
      out.push({ received: id, rcv: rcv[ci]!.id ?? `${canonicalRut(rcv[ci]!.rutEmisor)}-${rcv[ci]!.tipoDte}-${rcv[ci]!.folio}` });
    }
  }
  return out;
}
