/**
 * A deterministic classifier for SII publications: is it about electronic invoicing (DTE) and how
 * urgent is it for a company that issues DTE (prioridad 1–10)? Keyword weights on the folded
 * (lower-case, accent-free) title and materia; no model, so the same text always gets the same
 * answer and the reasons can be shown. See README.md for the table and the measured accuracy.
 *
 * An LLM may rewrite `resumen` later (`ResumenEnricher`); priority and relevance stay here.
 */
import { datesWithIndex, fold } from './dates.js';
import type { SiiPublication } from './parse.js';

export interface Classification {
  /** ISO date it takes effect: "a contar del 1 de enero de 2025" & co. when stated, else `fecha`. */
  vigencia: string;
  /** Short Spanish summary (the materia, or the title when there is none), at most 400 characters. */
  resumen: string;
  /** Which areas of DTE issuing it touches, in Spanish ("Impacto alto: factura electrónica, formato XML"). */
  impacto: string;
  /** 1 (ignore) … 10 (act now). */
  prioridad: number;
  /** True when it is about electronic documents (DTE, boleta, folios, RCV …). */
  relevante_dte: boolean;
  /** The matched rules, for explanation and tests. */
  reasons: string[];
}

interface Rule {
  re: RegExp;
  weight: number;
  area: string;
  /** Core DTE term: alone it makes the publication relevant. */
  dte?: boolean;
  /** Counts only when no other DTE term matched (it restates what a named document already says). */
  fallback?: boolean;
}

/** Electronic-invoicing terms (weights add, see score()). */
const DTE_RULES: readonly Rule[] = [
  // "factura electrónica", "facturación electrónica", "factura de compra/exportación/exenta electrónica"
  { re: /\bfactura(s|cion)?(?: (?:de |no )?[a-z]+)? electronicas?/, weight: 5, area: 'factura electrónica', dte: true },
  { re: /\bfacturas? (falsas|no fidedignas)|\bdocumentos? no fidedignos/, weight: 4, area: 'facturas falsas', dte: true },
  { re: /\bboleta(s)? (de venta |de honorarios )?electronica|\bboletas? de ventas? y servicios electronic/, weight: 5, area: 'boleta electrónica', dte: true },
  { re: /\bcomprobante(s)? de pago electronico/, weight: 4, area: 'boleta electrónica', dte: true },
  // "documentos tributarios electrónicos" and the shorter "documentos electrónicos" the SII also writes.
  { re: /\bdte\b|documentos? (tributarios? )?electronicos?/, weight: 5, area: 'DTE', dte: true },
  { re: /\bguias? de despacho/, weight: 4, area: 'guía de despacho', dte: true },
  { re: /\bnotas? de (credito|debito) electronica/, weight: 4, area: 'notas de crédito/débito', dte: true },
  { re: /\bliquidacion(es)?[- ]factura/, weight: 4, area: 'liquidación factura', dte: true },
  { re: /\b(formato|esquema|schema)s? (xml|electronico)|\bxml\b|\bxsd\b/, weight: 4, area: 'formato XML', dte: true },
  { re: /\btimbre electronico|\bted\b|timbraje electronico/, weight: 4, area: 'timbre electrónico', dte: true },
  { re: /\bfolios?\b|\bcaf\b|codigo de autorizacion de folios/, weight: 4, area: 'folios/CAF', dte: true },
  { re: /\bregistro de compras? y ventas?|\brcv\b/, weight: 4, area: 'RCV', dte: true },
  { re: /\blibros? (electronicos? )?de compras? y ventas?|\biecv\b|libro de guias/, weight: 4, area: 'libro de compras y ventas', dte: true },
  { re: /\bresumen de ventas diarias|\brvd\b|\brcof\b/, weight: 4, area: 'resumen de ventas diarias', dte: true },
  { re: /\bacuse de recibo|\bcesion (electronica )?de (creditos|facturas)|\btransferencia de creditos|\bley 19\.?983\b|\breclamo de (documentos|dte|facturas)/, weight: 4, area: 'acuse de recibo / cesión', dte: true },
  // Cambio de sujeto is operated through the buyer's factura de compra and the retention codes of the DTE.
  { re: /\bcambio de sujeto/, weight: 4, area: 'cambio de sujeto (factura de compra)', dte: true },
  // The issuing duty itself, as a noun or a verb: "emisión de boletas", "emitir facturas y boletas", "otorgar boleta".
  // A fallback: next to a named electronic document it is the same fact, so it only counts alone.
  { fallback: true, re: /\b(emision|emitir|otorgar|otorgamiento|entregar|entrega) (de )?((las?|los|sus) )?(documentos|facturas?|boletas?|guias?|notas de (credito|debito))\b/, weight: 3, area: 'emisión de documentos', dte: true },
  // The SII's own invoicing system (the free portal, "Mipyme") is where many issuers emit.
  { re: /\bsistema de facturacion|\bfacturacion (gratuita|gratuito|mipyme)|\bportal mipyme/, weight: 3, area: 'sistema de facturación', dte: true },
  { re: /\bcertificado digital|\bfirma electronica/, weight: 3, area: 'firma electrónica', dte: true },
  { re: /\bmedios de pago electronico|\bvoucher/, weight: 3, area: 'boleta electrónica', dte: true },
];

/** General terms that matter for invoicing but do not make a publication DTE-relevant alone. */
const CONTEXT_RULES: readonly Rule[] = [
  { re: /\biva\b|impuesto al valor agregado|ventas y servicios|\bf ?29\b|formulario 29|credito fiscal|debito fiscal/, weight: 2, area: 'IVA' },
  { re: /\bagentes? retenedor|\bretencion de(l)? iva/, weight: 1, area: 'retención de IVA' },
  { re: /\bplazos?\b|\bvencimiento/, weight: 1, area: 'plazos' },
  { re: /\bmultas?\b|\bsancion(es)?\b|\binfraccion/, weight: 1, area: 'sanciones' },
  { re: /\bobligatori[oa]|\bobligacion\b|\bdeberan\b|\bobliga\b/, weight: 2, area: 'obligación' },
  { re: /\bnuevo formato|\bmodifica\b|\bactualiza\b|\breemplaza\b|\bderoga\b|\bestablece\b|\binstruye\b|\bimparte instrucciones/, weight: 1, area: 'cambio normativo' },
];

/** Routine or unrelated publications: pulled down. */
const DAMPERS: readonly Rule[] = [
  { re: /\bunidad de fomento\b|\btabla(s)? de calculos? de reajustes|\bimpuesto unico de segunda categoria|\btablas? de impuesto unico|\bindice de precios al consumidor|\bipc\b|\bunidad tributaria (mensual|anual)|\butm\b|\bfactores? de (actualizacion|correccion monetaria)|\btipo de cambio\b/, weight: -4, area: 'publicación periódica' },
  { re: /\bdesigna\b|\bministros? de fe\b|\bdelega(se)? facultades|\bjurisdiccion|\bfuncionarios\b|\bconcurso\b/, weight: -3, area: 'administrativa interna' },
  { re: /\brecuerda\b|\binforma\b|\bmantencion|\bsitio de ayuda|\bconsulta publica|\bcharla|\bseminario|\bwebinar|\btransmision|\bhorario de atencion/, weight: -2, area: 'informativa' },
  { re: /\bparticipa\b|\bconvenio de colaboracion|\bcuenta publica|\baniversario|\bferia\b|\bdestaca\b|\bcifras?\b|\bestadisticas?\b/, weight: -3, area: 'institucional' },
  // Relief and clarification: more time, an option or an explanation is worth knowing, not an alarm.
  { re: /\bprorroga(se|n)?\b|\bposterga(se|n)?\b|\bamplia(se|n)? (excepcionalmente )?(el |los )?plazos?|\bsuspende(se|n)?\b/, weight: -3, area: 'prórroga' },
  { re: /\baclara\b|\bopcional|\bvoluntari[oa]|\bfacultativ[oa]/, weight: -2, area: 'facultativa / aclaración' },
  { re: /\bimpuesto territorial|\bbienes raices|\bavaluo|\bcontribuciones de bienes|\bherencias?|\bdonacion|\bimpuesto a la renta|\boperacion renta|\bdeclaraciones? juradas?|\bglobal complementario|\bconvenios? de doble tributacion|\bresidencia\b|\bganancias? de capital|\barrendamiento/, weight: -2, area: 'otra materia tributaria' },
];

const PRORROGA = DAMPERS.find((r) => r.area === 'prórroga')?.re ?? /$^/;

const BASE: Readonly<Record<SiiPublication['tipo'], number>> = { circular: 3, resolucion: 3, noticia: 2 };

const VIGENCIA_CUE = /(a contar del?|a partir del?|desde el|vigente desde|vigencia (a contar )?del?|entra(ra)? en vigencia el|entrara en vigor el|rige desde el|regira desde el|rige a partir del?)\s*$/;

/** The date a publication takes effect when its text says so ("a contar del 1° de enero de 2025"). */
export function extractVigencia(text: string): string | undefined {
  const f = fold(text);
  for (const d of datesWithIndex(f)) {
    const before = f.slice(Math.max(0, d.index - 40), d.index);
    if (VIGENCIA_CUE.test(before)) return d.iso;
  }
  return undefined;
}

function score(text: string, tipo: SiiPublication['tipo']): { prioridad: number; relevante: boolean; areas: string[]; reasons: string[] } {
  const f = fold(text);
  const areas: string[] = [];
  const reasons: string[] = [];
  let dteWeight = 0;
  let dteHits = 0;
  for (const r of DTE_RULES) {
    if (!r.re.test(f) || areas.includes(r.area) || (r.fallback && dteHits > 0)) continue;
    dteHits++;
    // The strongest term counts fully, each further one adds 1: "factura electrónica + XML + folios" is
    // more urgent than one of them, but not three times as urgent.
    dteWeight = dteHits === 1 ? r.weight : Math.max(dteWeight, r.weight) + Math.min(dteHits - 1, 2);
    areas.push(r.area);
    reasons.push(`dte:${r.area}`);
  }
  // An obligation that is being postponed is not a new duty: with a prórroga it does not lift.
  const relief = PRORROGA.test(f);
  let ctx = 0;
  let ivaWeight = 0;
  for (const r of CONTEXT_RULES) {
    if (!r.re.test(f) || (relief && r.area === 'obligación')) continue;
    ctx += r.weight;
    if (r.area === 'IVA') ivaWeight = r.weight;
    if (r.area !== 'cambio normativo' && !areas.includes(r.area)) areas.push(r.area);
    reasons.push(`ctx:${r.area}`);
  }
  let damp = 0;
  for (const r of DAMPERS) {
    if (!r.re.test(f)) continue;
    damp += r.weight;
    reasons.push(`low:${r.area}`);
  }
  const relevante = dteHits > 0;
  // Context terms lift DTE publications fully; without a DTE term only IVA counts fully (it is on every
  // invoice) and the rest half: an IVA circular is worth reading, not worth an alert.
  const raw = BASE[tipo] + dteWeight + (relevante ? ctx : ivaWeight + Math.floor((ctx - ivaWeight) / 2)) + damp;
  return { prioridad: Math.max(1, Math.min(10, raw)), relevante, areas, reasons };
}

/** Priority bands used in the README and the evaluation: alta 8–10, media 5–7, baja 1–4. */
export type Banda = 'alta' | 'media' | 'baja';
export const banda = (prioridad: number): Banda => (prioridad >= 8 ? 'alta' : prioridad >= 5 ? 'media' : 'baja');

const cut = (s: string, n: number): string => (s.length <= n ? s : `${s.slice(0, n - 1).replace(/\s+\S*$/, '')}…`);

/** Relevance, priority, effective date, summary and impact of one publication. */
export function classify(item: Pick<SiiPublication, 'tipo' | 'fecha' | 'titulo'> & { materia?: string | undefined }): Classification {
  const text = `${item.titulo}. ${item.materia ?? ''}`;
  const s = score(text, item.tipo);
  const vigencia = extractVigencia(text) ?? item.fecha;
  const resumen = cut(item.materia && item.materia.length > 0 ? item.materia : item.titulo, 400);
  const b = banda(s.prioridad);
  const impacto = s.areas.length > 0 ? `Impacto ${b}: ${s.areas.join(', ')}` : `Impacto ${b}: sin relación directa con la emisión de DTE`;
  return { vigencia, resumen, impacto, prioridad: s.prioridad, relevante_dte: s.relevante, reasons: s.reasons };
}

/**
 * A hook to rewrite `resumen` (e.g. with an LLM reading the PDF). Not called by this package; the
 * service may call it after `classify`, and must keep the deterministic resumen if it fails.
 */
export interface ResumenEnricher {
  enrich(item: SiiPublication, classification: Classification, signal?: AbortSignal): Promise<string>;
}
