/**
 * The conversation itself, as a stream of events the route writes as SSE or folds into JSON:
 * `meta`, `citation`, `tool_call`, `tool_result`, `delta`, `done`, `error`.
 *
 * Two engines. With a model (Claude through @timbre/llm): retrieval results are put in the system
 * prompt as numbered sources [n], the tools are offered, and the model's events are relayed. Without
 * one: the answer is built from the retrieved entries and their citations, and the tools a question
 * plainly asks for (a folio, a document, the CAFs, an SII code) are run deterministically; the
 * answer says that no language model is configured.
 */
import type { KnowledgeBase, SearchHit } from '@timbre/knowledge';
import type { ChatModel, ChatTool } from './model.js';
import { runTool } from './tools.js';

export type StreamEvent =
  | { event: 'meta'; data: { engine: 'retrieval' | 'claude'; model?: string } }
  | { event: 'citation'; data: { n: number; id: string; titulo: string; cita: string; url: string | null } }
  | { event: 'tool_call'; data: { id: string; name: string; input: unknown } }
  | { event: 'tool_result'; data: { id: string; name: string; ok: boolean; content: unknown } }
  | { event: 'delta'; data: { text: string } }
  | { event: 'done'; data: { usage?: { input_tokens: number; output_tokens: number }; stop_reason?: string } }
  | { event: 'error'; data: { code: string; message: string } };

export interface ChatInput {
  message: string;
  history: Array<{ role: 'user' | 'assistant'; content: string }>;
  /** The company the conversation is about, when known (canonical RUT). */
  companyRut?: string;
}

export const NO_MODEL_NOTICE = 'No hay un modelo de lenguaje configurado (ANTHROPIC_API_KEY); esta respuesta se basa en la base de conocimiento.';

/** Retrieved entries put before the model / listed offline. */
const RETRIEVE = 4;
/** Entries scoring under this share of the best one are noise (a shared common word), not sources. */
const MIN_RELATIVE_SCORE = 0.25;

/** The sources for a question: the top entries, without the long tail of weak matches. */
export function retrieve(kb: KnowledgeBase, message: string): SearchHit[] {
  const hits = kb.search(message, { limit: RETRIEVE });
  const best = hits[0]?.score ?? 0;
  return hits.filter((h) => h.score >= best * MIN_RELATIVE_SCORE);
}

export const SYSTEM_PROMPT = `Eres el asistente de Timbre, un sistema de facturación electrónica chileno. Respondes en español, breve y concreto, solo sobre documentos tributarios electrónicos (DTE), el SII y el uso de Timbre; si te preguntan otra cosa, dilo y no respondas.
Reglas:
- Apóyate en las fuentes numeradas de abajo y cítalas como [n] cuando las uses. Si necesitas más, usa buscar_normativa.
- Nunca inventes números de resoluciones, circulares, leyes ni artículos: cita solo lo que aparece en las fuentes o en los resultados de las herramientas. Si no lo sabes, dilo y sugiere consultar sii.cl.
- Para datos de la empresa (estado de un documento, folios y CAF) usa las herramientas estado_documento y estado_cafs; para códigos del SII, codigo_sii. Si una herramienta falla o no hay permiso, explícalo tal cual.
- No des asesoría tributaria personalizada más allá de las reglas citadas.`;

function sourcesBlock(hits: SearchHit[]): string {
  if (hits.length === 0) return '\n\nFuentes: (ninguna entrada de la base de conocimiento coincide con la pregunta).';
  return `\n\nFuentes:\n${hits.map((h, i) => `[${i + 1}] ${h.titulo}: ${h.texto} (Cita: ${h.cita}${h.url ? `, ${h.url}` : ''})`).join('\n')}`;
}

const citationEvents = (hits: SearchHit[]): StreamEvent[] =>
  hits.map((h, i) => ({ event: 'citation', data: { n: i + 1, id: h.id, titulo: h.titulo, cita: h.cita, url: h.url ?? null } }));

// ---- offline intent detection: only what the question says plainly

const TYPE_WORDS: Array<[RegExp, number]> = [
  [/factura\s+(?:no\s+afecta|exenta)/i, 34],
  [/factura\s+de\s+compra/i, 46],
  [/factura\s+de\s+exportaci[oó]n/i, 110],
  [/boleta\s+exenta/i, 41],
  [/nota\s+de\s+cr[eé]dito|\bnc\b/i, 61],
  [/nota\s+de\s+d[eé]bito|\bnd\b/i, 56],
  [/gu[ií]a/i, 52],
  [/boleta/i, 39],
  [/factura/i, 33],
];

/** The DTE type a question names ("tipo 61", "nota de crédito", "factura"), if any. */
export function typeMentioned(text: string): number | undefined {
  const explicit = /\b(?:tipo|dte)\s*(?:n[°º.]?\s*)?(33|34|39|41|43|46|52|56|61|110|111|112)\b/i.exec(text);
  if (explicit) return Number(explicit[1]);
  for (const [re, t] of TYPE_WORDS) if (re.test(text)) return t;
  return undefined;
}

const DOC_WORDS = String.raw`(?:folio|factura(?:\s+(?:exenta|electr[oó]nica|de\s+compra))?|boleta(?:\s+exenta)?|nota\s+de\s+cr[eé]dito|nota\s+de\s+d[eé]bito|nc|nd|gu[ií]a(?:\s+de\s+despacho)?)`;
const FOLIO_RE = new RegExp(String.raw`\b${DOC_WORDS}\s*(?:n[°º.o]?\s*|nro\.?\s*|n[uú]mero\s*|#\s*)?(\d{1,10})\b`, 'i');
const DOC_ID_RE = /\b(?:documento|dte)\s*(?:id\s*|#\s*|n[°º.o]?\s*)?(\d{1,10})\b|\bid\s*(\d{1,10})\b/i;
const CAF_RE = /\bcafs?\b|\bfolios?\s+(?:disponibles|restantes|que\s+(?:me\s+)?quedan)|\bquedan?\s+folios\b/i;
const CODE_RE = /\b([A-Z]{3}-\d-\d{2,4})\b|\b(EPR|RCT|RFR|RSC|SOK|FOK|CRT|PDR|RPR|RLV|RCH|DOK|DNK|FAU|FNA|FAN)\b/;

export interface PlannedCall {
  name: string;
  input: Record<string, unknown>;
}

/** The tools the offline engine runs for a question (in order). */
export function plannedCalls(message: string, companyRut?: string): PlannedCall[] {
  const calls: PlannedCall[] = [];
  const rut = companyRut !== undefined ? { rut_emisor: companyRut } : {};
  const folio = FOLIO_RE.exec(message);
  const docId = folio ? null : DOC_ID_RE.exec(message);
  const tipo = typeMentioned(message);
  if (folio) {
    calls.push({ name: 'estado_documento', input: { folio: Number(folio[1]), ...(tipo !== undefined ? { dte_type: tipo } : {}), ...rut } });
  } else if (docId) {
    calls.push({ name: 'estado_documento', input: { id: Number(docId[1] ?? docId[2]) } });
  }
  if (CAF_RE.test(message)) calls.push({ name: 'estado_cafs', input: { ...(tipo !== undefined ? { dte_type: tipo } : {}), ...rut } });
  const code = CODE_RE.exec(message);
  if (code) calls.push({ name: 'codigo_sii', input: { codigo: code[1] ?? code[2] } });
  return calls;
}

/** One line per tool result for the offline answer. */
function describeResult(name: string, ok: boolean, content: unknown): string {
  const c = content as Record<string, unknown>;
  if (!ok) return `- ${name}: no se pudo consultar: ${String(c.message ?? 'error')}.`;
  if (name === 'estado_documento') {
    const docs = (c.documentos as Array<Record<string, unknown>>) ?? [];
    return docs
      .map(
        (d) =>
          `- Documento tipo ${String(d.dte_type)} folio ${String(d.folio)} (id ${String(d.id)}): estado ${String(d.status)}` +
          `${d.sii_status ? `, estado SII ${String(d.sii_status)}${d.sii_status_glosa ? ` (${String(d.sii_status_glosa)})` : ''}` : ''}` +
          `${d.track_id ? `, track id ${String(d.track_id)}` : ''}${d.error_message ? `, error: ${String(d.error_message)}` : ''}.`,
      )
      .join('\n');
  }
  if (name === 'estado_cafs') {
    const tipos = (c.tipos as Array<Record<string, unknown>>) ?? [];
    if (tipos.length === 0) return `- CAF de ${String(c.rut_emisor)}: no hay CAF cargados${c.fecha ? ` (al ${String(c.fecha)})` : ''}.`;
    return tipos
      .map(
        (t) =>
          `- CAF tipo ${String(t.tipoDte)}: ${String(t.foliosLeft)} folios disponibles` +
          `${t.nextFolio !== undefined && t.nextFolio !== null ? `, próximo folio ${String(t.nextFolio)}` : ''}${t.expiresAt ? `, vence el ${String(t.expiresAt)}` : ''}.`,
      )
      .join('\n');
  }
  if (name === 'codigo_sii') {
    const hits = (c.encontrados as Array<Record<string, unknown>>) ?? [];
    if (hits.length === 0) return `- Código ${String(c.codigo)}: no está en el catálogo de Timbre${c.severidad ? ` (por su forma, es un ${String(c.severidad)})` : ''}.`;
    return hits.map((h) => `- Código ${String(c.codigo)} (${String(h.servicio)}): ${String(h.significado)}.`).join('\n');
  }
  return `- ${name}: ${JSON.stringify(content)}`;
}

export interface EngineDeps {
  kb: KnowledgeBase;
  tools: ChatTool[];
  model?: ChatModel;
}

/** The conversation's events; stops early (without an error event) when `signal` aborts. */
export async function* converse(input: ChatInput, deps: EngineDeps, signal: AbortSignal): AsyncGenerator<StreamEvent> {
  const hits = retrieve(deps.kb, input.message);
  if (deps.model) {
    yield* withModel(input, hits, deps, deps.model, signal);
    return;
  }
  yield { event: 'meta', data: { engine: 'retrieval' } };
  yield* citationEvents(hits);
  const lines: string[] = [];
  let n = 0;
  for (const call of plannedCalls(input.message, input.companyRut)) {
    const tool = deps.tools.find((t) => t.name === call.name);
    if (tool === undefined) continue;
    const id = `offline_${++n}`;
    yield { event: 'tool_call', data: { id, name: call.name, input: call.input } };
    const r = await runTool(tool, call.input, signal);
    if (signal.aborted) return;
    yield { event: 'tool_result', data: { id, name: call.name, ok: r.ok, content: r.content } };
    lines.push(describeResult(call.name, r.ok, r.content));
  }
  let text = `${NO_MODEL_NOTICE}\n`;
  if (lines.length > 0) text += `\nDatos de Timbre:\n${lines.join('\n')}\n`;
  if (hits.length > 0) text += `\nLo más relacionado en la base de conocimiento:\n${hits.map((h, i) => `[${i + 1}] ${h.titulo}: ${h.texto} (Fuente: ${h.cita})`).join('\n')}\n`;
  else if (lines.length === 0) text += '\nNo encontré entradas de la base de conocimiento que respondan esta pregunta; reformúlela o consulte sii.cl.\n';
  yield { event: 'delta', data: { text } };
  yield { event: 'done', data: {} };
}

async function* withModel(input: ChatInput, hits: SearchHit[], deps: EngineDeps, model: ChatModel, signal: AbortSignal): AsyncGenerator<StreamEvent> {
  yield { event: 'meta', data: { engine: 'claude', model: model.model } };
  yield* citationEvents(hits);
  const company = input.companyRut !== undefined ? `\n\nLa conversación es sobre la empresa RUT ${input.companyRut}.` : '';
  try {
    for await (const e of model.chat({
      system: SYSTEM_PROMPT + company + sourcesBlock(hits),
      messages: [...input.history, { role: 'user', content: input.message }],
      tools: deps.tools,
      maxTokens: 1500,
      maxToolRounds: 4,
      signal,
    })) {
      if (signal.aborted) return;
      if (e.type === 'text') yield { event: 'delta', data: { text: e.text } };
      else if (e.type === 'tool_call') yield { event: 'tool_call', data: { id: e.id, name: e.name, input: e.input } };
      else if (e.type === 'tool_result') yield { event: 'tool_result', data: { id: e.id, name: e.name, ok: e.ok, content: e.content } };
      else if (e.type === 'done') {
        yield { event: 'done', data: { usage: { input_tokens: e.usage.inputTokens, output_tokens: e.usage.outputTokens }, stop_reason: e.stopReason } };
        return;
      } else {
        yield { event: 'error', data: { code: e.code, message: e.message } };
        return;
      }
    }
    // The model's stream ended without `done`: say so rather than leave the client waiting.
    if (!signal.aborted) yield { event: 'error', data: { code: 'ERR_MODEL_INCOMPLETE', message: 'the model stream ended without a final event' } };
  } catch {
    if (signal.aborted) return;
    // No error text: it could carry request details; the service log has the model package's own.
    yield { event: 'error', data: { code: 'ERR_MODEL_FAILED', message: 'the language model failed' } };
  }
}
