/**
 * Retrieval evaluation: questions as an accountant types them (typos, abbreviations, no accents),
 * each labelled with the entries that answer it. recall@k = share of questions with at least one
 * right entry in the top k; MRR = mean of 1 / rank of the first right entry (0 when none in the top
 * 10). The labels were written from the questions, before looking at the ranking.
 */
import { KnowledgeBase } from './search.js';

export interface LabelledQuestion {
  q: string;
  /** Entry ids that answer it (any one in the top k counts). */
  ids: string[];
}

export const EVAL_QUESTIONS: readonly LabelledQuestion[] = Object.freeze([
  { q: 'cuanto dura un caf de facturas?', ids: ['caf-vencimiento'] },
  { q: 'se me vencio el CAF de notas de credito, que hago', ids: ['caf-vencimiento', 'caf-solicitud'] },
  { q: 'los folios de boleta vencen?', ids: ['caf-vencimiento'] },
  { q: 'como pido mas folios al sii', ids: ['caf-solicitud'] },
  { q: 'como anulo una factura ya emitida', ids: ['nota-credito-61', 'codref', 'folio-anulacion'] },
  { q: 'quiero anular folios que no voy a ocupar', ids: ['folio-anulacion'] },
  { q: 'que significa codref 3 en una nc', ids: ['codref'] },
  { q: 'nota de credito para corregir la razon social del cliente', ids: ['nc-corrige-texto', 'codref'] },
  { q: 'puedo anular una guia de despacho con nc?', ids: ['nc-anular-guia'] },
  { q: 'REF-3-750 que es', ids: ['referencia-doc-rechazado', 'codigos-rechazo'] },
  { q: 'error DTE-3-101 folio', ids: ['folio-duplicado'] },
  { q: 'CAF-3-517 rechazo', ids: ['caf-vencimiento', 'codigos-rechazo'] },
  { q: 'que es el estado EPR', ids: ['estado-epr'] },
  { q: 'el envio quedo en RFR', ids: ['estado-rechazo-envio', 'firma-xmldsig'] },
  { q: 'me salio RCT en el trackid', ids: ['estado-rechazo-envio'] },
  { q: 'que significa SOK', ids: ['estado-intermedios'] },
  { q: 'documento aceptado con reparos es valido?', ids: ['estado-reparos'] },
  { q: 'por que me rechazaron la factura, donde veo el motivo', ids: ['estado-rch', 'sii-correo-resultado'] },
  { q: 'cuantos dias tengo para reclamar una factura de proveedor', ids: ['plazo-reclamo-8-dias', 'rcv-acciones'] },
  { q: 'plaso para rechasar factura recibida', ids: ['plazo-reclamo-8-dias', 'rcv-acciones'] },
  { q: 'que es ERM en el registro de compras', ids: ['rcv-acciones', 'acuse-recibo'] },
  { q: 'acuse de recibo ley 19983', ids: ['acuse-recibo'] },
  { q: 'tengo que mandar el libro de compras y ventas?', ids: ['rcv', 'libros'] },
  { q: 'que es el rcv', ids: ['rcv'] },
  { q: 'le vendo a una persona natural, boleta o factura', ids: ['factura-o-boleta'] },
  { q: 'desde cuando es obligatoria la boleta electronica', ids: ['boleta-obligatoria'] },
  { q: 'boleta sin rut del cliente', ids: ['boleta-receptor-generico'] },
  { q: 'factura exenta de iva codigo', ids: ['factura-exenta-34'] },
  { q: 'todas mis lineas son exentas puedo usar la 33', ids: ['factura-exenta-34'] },
  { q: 'tasa de iva', ids: ['iva-19'] },
  { q: 'como se redondea el iva', ids: ['redondeo', 'iva-19'] },
  { q: 'precio con iva incluido como saco el neto', ids: ['montos-brutos'] },
  { q: 'guia de despacho traslado interno entre bodegas', ids: ['guia-indtraslado', 'guia-despacho-52'] },
  { q: 'hasta cuando puedo facturar las guias del mes', ids: ['guia-factura-postergada'] },
  { q: 'factura con mas de 20 guias', ids: ['guia-referencias-factura'] },
  { q: 'factura de compra retencion iva', ids: ['factura-compra-46', 'retencion-codigo-15'] },
  { q: 'que es la 46', ids: ['factura-compra-46'] },
  { q: 'factura exportacion en dolares', ids: ['exportacion-110'] },
  { q: 'el sii esta caido puedo emitir igual', ids: ['contingencia'] },
  { q: 'que es el timbre electronico ted', ids: ['ted-timbre'] },
  { q: 'tamaño del pdf417 en la factura impresa', ids: ['pdf417'] },
  { q: 'que va en la copia cedible', ids: ['copia-cedible'] },
  { q: 'puedo ceder una factura reclamada (factoring)', ids: ['cesion'] },
  { q: 'rcof consumo de folios sigue vigente?', ids: ['rcof'] },
  { q: 'el usuario no tiene permiso de envio error 106', ids: ['certificado-digital'] },
  { q: 'caratula rut receptor invalido', ids: ['crt-3-18'] },
  { q: 'cuantas lineas de detalle puede tener una factura', ids: ['detalle-lineas'] },
  { q: 'folio FAN en consulta de estado', ids: ['consulta-estado-dte', 'folio-anulacion'] },
  { q: 'boleta de honorarios electronica con timbre', ids: ['boleta-honorarios'] },
  { q: 'nd por intereses', ids: ['nota-debito-56'] },
  { q: 'diferencia entre maullin y palena', ids: ['ambientes'] },
  { q: 'que es el status 99 al subir', ids: ['upload-status'] },
]);

export interface EvalReport {
  questions: number;
  recallAt1: number;
  recallAt3: number;
  recallAt5: number;
  mrr: number;
  /** Questions whose answer is not in the top 3, with what came first. */
  misses: Array<{ q: string; expected: string[]; got: string[] }>;
}

export function evaluate(questions: readonly LabelledQuestion[] = EVAL_QUESTIONS, kb: KnowledgeBase = new KnowledgeBase()): EvalReport {
  let r1 = 0;
  let r3 = 0;
  let r5 = 0;
  let rr = 0;
  const misses: EvalReport['misses'] = [];
  for (const { q, ids } of questions) {
    const got = kb.search(q, { limit: 10 }).map((h) => h.id);
    const rank = got.findIndex((id) => ids.includes(id)) + 1; // 0: not found
    if (rank === 1) r1++;
    if (rank >= 1 && rank <= 3) r3++;
    else misses.push({ q, expected: ids, got: got.slice(0, 3) });
    if (rank >= 1 && rank <= 5) r5++;
    if (rank >= 1) rr += 1 / rank;
  }
  const n = Math.max(1, questions.length);
  const f = (x: number) => Math.round((x / n) * 1000) / 1000;
  return { questions: questions.length, recallAt1: f(r1), recallAt3: f(r3), recallAt5: f(r5), mrr: f(rr), misses };
}
