/**
 * The chat assistant's tools: read Timbre's own data through the DTE service with the caller's
 * credentials (`estado_documento`, `estado_cafs`), the SII code catalogue of @timbre/sii
 * (`codigo_sii`) and the knowledge base (`buscar_normativa`). Inputs are checked here (a model can
 * send anything): a bad input is a `ToolInputError` naming the field. `runTool` turns any failure
 * into `{ ok: false, content: { code, message } }`, so a failing tool never ends the conversation.
 */
import { Rut } from '@timbre/dte';
import { type KnowledgeBase } from '@timbre/knowledge';
import { describeCode, documentCodeSeverity, findCodes, normalizeSiiCode } from '@timbre/sii';
import { DteClientError, type Credentials, type DteClient, type DteSummary } from '../dte-client.js';
import type { ChatTool } from './model.js';

export class ToolInputError extends Error {
  readonly code = 'ERR_TOOL_INPUT';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'ToolInputError';
  }
}

export interface ToolContext {
  dte: DteClient;
  credentials: Credentials;
  kb: KnowledgeBase;
  /** The RUT the conversation is about (body `company_rut`, or the token's only company). */
  defaultRut?: string;
}

/** Pages of 500 scanned to find a folio (the list API has no folio filter): the newest 5000 documents. */
const MAX_PAGES = 10;

const obj = (input: unknown): Record<string, unknown> => {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new ToolInputError('input', 'the input must be an object');
  return input as Record<string, unknown>;
};

const posInt = (v: unknown, field: string, max = 9_999_999_999): number => {
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > max) throw new ToolInputError(field, `${field} must be a positive integer`);
  return n;
};

function rutOf(v: unknown, ctx: ToolContext, field: string): string {
  const raw = v === undefined || v === null || v === '' ? ctx.defaultRut : v;
  if (raw === undefined) throw new ToolInputError(field, `${field} is required (the company's RUT: send company_rut)`);
  if (typeof raw !== 'string' || !Rut.isValid(raw.trim())) throw new ToolInputError(field, `${field} is not a valid RUT`);
  return Rut.parse(raw.trim(), { field }).canonical;
}

/** The DTE service's document with the SII status explained from the catalogue. */
function documentView(d: DteSummary) {
  const info = d.sii_status ? describeCode(d.sii_status) : undefined;
  return {
    id: d.id,
    rut_emisor: d.rut_emisor,
    dte_type: Number(d.dte_type),
    folio: d.folio,
    status: d.status,
    sii_status: d.sii_status,
    sii_status_glosa: info?.meaning ?? null,
    track_id: d.sii_track_id,
    error_message: d.error_message,
    created_at: d.created_at,
    updated_at: d.updated_at,
  };
}

export function buildTools(ctx: ToolContext): ChatTool[] {
  const estadoDocumento: ChatTool = {
    name: 'estado_documento',
    description:
      'Estado de un documento emitido con Timbre: por su id, o por tipo (dte_type), folio y RUT emisor. Devuelve status (draft, signed, sent, accepted, accepted_with_reparos, rejected, error), sii_status con su glosa, track id y fechas.',
    inputSchema: {
      type: 'object',
      properties: {
        id: { type: 'integer', description: 'id del documento en Timbre' },
        dte_type: { type: 'integer', description: 'tipo de DTE (33, 39, 61 …)' },
        folio: { type: 'integer' },
        rut_emisor: { type: 'string', description: 'RUT del emisor (por defecto, la empresa de la conversación)' },
      },
    },
    async run(input, signal) {
      const i = obj(input);
      if (i.id !== undefined) return { documentos: [documentView(await ctx.dte.getDocument(posInt(i.id, 'id'), ctx.credentials, signal))] };
      if (i.folio === undefined) throw new ToolInputError('folio', 'give id, or folio (with dte_type and rut_emisor)');
      const folio = posInt(i.folio, 'folio');
      const dteType = i.dte_type === undefined ? undefined : posInt(i.dte_type, 'dte_type', 999);
      const rutEmisor = rutOf(i.rut_emisor, ctx, 'rut_emisor');
      const found: DteSummary[] = [];
      let before: number | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        const list = await ctx.dte.listDocuments({ rutEmisor, limit: 500, ...(dteType !== undefined ? { dteType } : {}), ...(before !== undefined ? { before } : {}) }, ctx.credentials, signal);
        found.push(...list.items.filter((d) => d.folio === folio));
        if (list.next_before === null || (dteType !== undefined && found.length > 0)) break;
        before = list.next_before;
      }
      if (found.length === 0) {
        throw new DteClientError('ERR_DTE_NOT_FOUND', `no document with folio ${folio}${dteType !== undefined ? ` of type ${dteType}` : ''} for ${rutEmisor}`, 404);
      }
      return { documentos: found.map(documentView) };
    },
  };

  const estadoCafs: ChatTool = {
    name: 'estado_cafs',
    description: 'Folios disponibles y CAF cargados de una empresa, por tipo de DTE: folios restantes, próximo folio, vencimiento (6 meses para 33/43/46/56/61) y avisos.',
    inputSchema: {
      type: 'object',
      properties: {
        rut_emisor: { type: 'string', description: 'RUT de la empresa (por defecto, la de la conversación)' },
        dte_type: { type: 'integer', description: 'solo este tipo de DTE' },
      },
    },
    async run(input, signal) {
      const i = obj(input);
      const rutEmisor = rutOf(i.rut_emisor, ctx, 'rut_emisor');
      const dteType = i.dte_type === undefined ? undefined : posInt(i.dte_type, 'dte_type', 999);
      const s = await ctx.dte.cafStatus(rutEmisor, ctx.credentials, signal);
      return {
        rut_emisor: s.rut_emisor,
        fecha: s.fecha,
        tipos: dteType === undefined ? s.tipos : s.tipos.filter((t) => t.tipoDte === dteType),
        cafs: dteType === undefined ? s.cafs : s.cafs.filter((c) => c.tipo_dte === dteType),
      };
    },
  };

  const codigoSii: ChatTool = {
    name: 'codigo_sii',
    description: 'Significado de un código del SII (estados de envío como EPR o RCT, estados de DTE como DOK, STATUS de subida, códigos de rechazo como REF-3-750), según el catálogo de Timbre, con qué hacer.',
    inputSchema: { type: 'object', required: ['codigo'], properties: { codigo: { type: 'string', maxLength: 40 } } },
    async run(input) {
      const i = obj(input);
      if (typeof i.codigo !== 'string' || i.codigo.trim() === '' || i.codigo.length > 40) throw new ToolInputError('codigo', 'codigo must be a non-empty string of at most 40 characters');
      const codigo = normalizeSiiCode(i.codigo);
      const hits = findCodes(codigo);
      return {
        codigo,
        encontrados: hits.map((h) => ({
          servicio: h.service,
          significado: h.meaning,
          significado_en: h.meaningEn,
          resultado: h.outcome,
          final: h.final,
          ...(h.fix !== undefined ? { que_hacer: h.fix } : {}),
          fuente: h.source,
        })),
        // Codes not in the catalogue still say rechazo/reparo by their level digit.
        severidad: documentCodeSeverity(codigo) ?? null,
      };
    },
  };

  const buscarNormativa: ChatTool = {
    name: 'buscar_normativa',
    description: 'Busca en la base de conocimiento de normativa SII de Timbre (reglas con su cita). Úsala antes de responder sobre reglas, plazos, códigos o formatos.',
    inputSchema: { type: 'object', required: ['consulta'], properties: { consulta: { type: 'string', maxLength: 500 }, limite: { type: 'integer', minimum: 1, maximum: 10 } } },
    async run(input) {
      const i = obj(input);
      if (typeof i.consulta !== 'string' || i.consulta.trim() === '' || i.consulta.length > 500) throw new ToolInputError('consulta', 'consulta must be a non-empty string of at most 500 characters');
      const limit = i.limite === undefined ? 5 : posInt(i.limite, 'limite', 10);
      return { resultados: ctx.kb.search(i.consulta, { limit }).map(({ id, titulo, texto, cita, url }) => ({ id, titulo, texto, cita, ...(url !== undefined ? { url } : {}) })) };
    },
  };

  return [estadoDocumento, estadoCafs, codigoSii, buscarNormativa];
}

/** A tool's error as the model and the client see it: a stable code and a Spanish message. */
export function toolErrorContent(err: unknown): { code: string; message: string; field?: string; status?: number } {
  if (err instanceof ToolInputError) return { code: err.code, message: `entrada inválida (${err.field}): ${err.message}`, field: err.field };
  if (err instanceof DteClientError) {
    const why: Record<string, string> = {
      ERR_DTE_FORBIDDEN: 'sus credenciales no tienen permiso para ver los datos de esa empresa o tipo de documento',
      ERR_DTE_UNAUTHORIZED: 'el servicio DTE no aceptó las credenciales',
      ERR_DTE_NOT_FOUND: 'no se encontró',
      ERR_DTE_UNREACHABLE: 'el servicio DTE no está disponible',
      ERR_DTE_TIMEOUT: 'el servicio DTE no respondió a tiempo',
    };
    return { code: err.code, message: `${why[err.code] ?? 'error del servicio DTE'} (${err.message})`, ...(err.status !== undefined ? { status: err.status } : {}) };
  }
  return { code: 'ERR_TOOL_FAILED', message: 'la herramienta falló' };
}

/** Run a tool; never throws (an aborted run reports ERR_ABORTED). */
export async function runTool(tool: ChatTool, input: unknown, signal?: AbortSignal): Promise<{ ok: boolean; content: unknown }> {
  try {
    return { ok: true, content: await tool.run(input, signal) };
  } catch (err) {
    return { ok: false, content: toolErrorContent(err) };
  }
}
