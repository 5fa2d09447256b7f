/** JSON schemas of the routes (Fastify validation + OpenAPI). */
import { problemResponses } from '@timbre/http';
import { DTE_STATUSES } from '@timbre/store';

/** Every error status a route of this service may answer, as problem+json. */
export const errorResponses = problemResponses(400, 401, 403, 404, 409, 413, 415, 422, 429, 501, 502, 503);

const rut = { type: 'string', pattern: '^[0-9]{1,8}-[0-9Kk]$', examples: ['76086428-5'] } as const;
const date = { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' } as const;

export const companyBody = {
  type: 'object',
  required: ['rut', 'razon_social', 'nro_resol', 'fch_resol'],
  additionalProperties: false,
  properties: { rut, razon_social: { type: 'string', minLength: 1, maxLength: 100 }, nro_resol: { type: 'integer', minimum: 0 }, fch_resol: date },
} as const;

export const companyResponse = {
  type: 'object',
  properties: { rut: { type: 'string' }, razon_social: { type: 'string' }, nro_resol: { type: 'integer' }, fch_resol: { type: 'string' }, created_at: { type: 'string' } },
} as const;

export const certificateBody = {
  type: 'object',
  required: ['rut_company', 'p12_base64', 'password'],
  additionalProperties: false,
  properties: {
    rut_company: rut,
    p12_base64: { type: 'string', minLength: 1, maxLength: 1_000_000 },
    password: { type: 'string', maxLength: 1000 },
    /** Company data, to register the company together with its first certificate. */
    razon_social: { type: 'string', minLength: 1, maxLength: 100 },
    nro_resol: { type: 'integer', minimum: 0 },
    fch_resol: date,
  },
} as const;

export const certificateResponse = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    rut_company: { type: 'string' },
    rut_signer: { type: 'string' },
    rut_source: { type: 'string' },
    subject: { type: 'string' },
    issuer: { type: 'string' },
    not_before: { type: 'string' },
    not_after: { type: 'string' },
  },
} as const;

export const cafBody = {
  type: 'object',
  required: ['caf_xml'],
  additionalProperties: false,
  properties: { caf_xml: { type: 'string', minLength: 1, maxLength: 100_000, description: 'the CAF file (text); or send the raw file as application/xml' } },
} as const;

const cafSummary = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    rut_emisor: { type: 'string' },
    tipo_dte: { type: 'integer' },
    desde: { type: 'integer' },
    hasta: { type: 'integer' },
    fecha_autorizacion: { type: 'string' },
    idk: { type: 'integer' },
    next_folio: { type: 'integer' },
    signature_verified: { type: 'boolean' },
  },
} as const;
export const cafUploadResponse = cafSummary;

export const rutEmisorQuery = { type: 'object', required: ['rut_emisor'], properties: { rut_emisor: rut } } as const;

export const statusQuery = {
  type: 'object',
  required: ['rut_emisor', 'dte_type', 'folio'],
  properties: { track_id: { type: 'string', pattern: '^[0-9]+$' }, rut_emisor: rut, dte_type: { type: 'string', pattern: '^[0-9]{2,3}$' }, folio: { type: 'integer', minimum: 1 } },
} as const;

export const statusResponse = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    folio: { type: 'integer' },
    dte_type: { type: 'string' },
    track_id: { type: ['string', 'null'] },
    status: { type: 'string', enum: [...DTE_STATUSES] },
    sii_status: { type: ['string', 'null'] },
    status_display: { type: 'string' },
    error_message: { type: ['string', 'null'] },
    fecha_revision: { type: ['string', 'null'] },
    final: { type: 'boolean' },
  },
} as const;

export const generateResponse = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    folio: { type: 'integer' },
    dte_type: { type: 'string' },
    fecha_emision: { type: 'string' },
    status: { type: 'string', enum: [...DTE_STATUSES] },
    xml_signed: { type: 'string', description: 'signed DTE as XML text; exact ISO-8859-1 bytes at GET /api/v1/dte/{id}/xml' },
    xml_unsigned: { type: 'string', description: 'the same DTE without its XMLDSig signature' },
    ted: { type: 'string', description: 'the TED element (PDF417 content)' },
    sii_track_id: { type: ['string', 'null'] },
    sii_accepted: { type: 'boolean', description: 'false until GET /api/v1/dte/status reports acceptance' },
    errors: { type: 'array', items: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } },
    pdf_content: {
      type: 'string',
      contentEncoding: 'base64',
      description: 'only with ?pdf=letter|a4|thermal: the PDF of xml_signed, base64 (also on a replay). Absent when the PDF could not be rendered (errors[] then has ERR_PDF_FAILED; GET /api/v1/dte/{id}/pdf)',
    },
  },
} as const;

const pdfFormat = { type: 'string', enum: ['letter', 'a4', 'thermal'] } as const;

/** `POST /api/v1/dte/generate` query: the PDF to include in the answer (checked by hand, see the route). */
export const generateQuery = {
  type: 'object',
  properties: {
    pdf: { ...pdfFormat, description: 'include pdf_content, the PDF in this format' },
    cedible: { type: 'boolean', default: false, description: 'with pdf: add the cedible copy (types 33, 34, 46, 52)' },
  },
} as const;

export const pdfQuery = {
  type: 'object',
  properties: {
    format: { ...pdfFormat, default: 'letter', description: 'letter, A4, or an 80 mm thermal roll' },
    cedible: { type: 'boolean', default: false, description: 'add the cedible copy after the original (types 33, 34, 46, 52; others → 422)' },
  },
} as const;

export const pdfResponse = {
  description: 'the printed representation, application/pdf (Content-Disposition: inline; filename="T<tipo>F<folio>.pdf")',
  content: { 'application/pdf': { schema: { type: 'string', format: 'binary' } } },
} as const;

export const companyRutParams = { type: 'object', required: ['rut'], properties: { rut } } as const;

export const logoResponse = {
  type: 'object',
  properties: { rut: { type: 'string' }, logo_type: { type: 'string', enum: ['image/png', 'image/jpeg'] }, size: { type: 'integer', description: 'bytes' } },
} as const;

export const dteSummary = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    rut_emisor: { type: 'string' },
    dte_type: { type: 'string' },
    folio: { type: 'integer' },
    status: { type: 'string', enum: [...DTE_STATUSES] },
    sii_status: { type: ['string', 'null'] },
    sii_track_id: { type: ['string', 'null'] },
    error_message: { type: ['string', 'null'] },
    created_at: { type: 'string' },
    updated_at: { type: 'string' },
  },
} as const;

export const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } } as const;

export const listQuery = {
  type: 'object',
  required: ['rut_emisor'],
  properties: {
    rut_emisor: rut,
    dte_type: { type: 'string', pattern: '^[0-9]{2,3}$' },
    status: { type: 'string', enum: [...DTE_STATUSES] },
    limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
    before: { type: 'integer', minimum: 1, description: 'keyset cursor: next_before of the previous page' },
  },
} as const;

export const listResponse = {
  type: 'object',
  properties: { items: { type: 'array', items: dteSummary }, next_before: { type: ['integer', 'null'] } },
} as const;

export const resendBody = {
  type: 'object',
  required: ['rut_emisor'],
  additionalProperties: false,
  properties: {
    rut_emisor: { type: 'string', maxLength: 12 },
    dte_type: { type: 'string', pattern: '^[0-9]{2,3}$' },
    folio: { type: 'integer', minimum: 1 },
    ids: { type: 'array', items: { type: 'integer', minimum: 1 }, maxItems: 500 },
    limit: { type: 'integer', minimum: 1, maximum: 500 },
  },
} as const;

export const resendResponse = {
  type: 'object',
  properties: {
    processed: { type: 'integer' },
    results: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'integer' },
          folio: { type: 'integer' },
          dte_type: { type: 'string' },
          status_before: { type: 'string', enum: [...DTE_STATUSES] },
          status: { type: 'string', enum: [...DTE_STATUSES] },
          sii_track_id: { type: ['string', 'null'] },
          outcome: { type: 'string', enum: ['sent', 'retry', 'failed', 'skipped', 'none'] },
          next_attempt_at: { type: ['string', 'null'] },
          error: { type: ['object', 'null'], properties: { code: { type: 'string' }, message: { type: 'string' } } },
        },
      },
    },
  },
} as const;

const host = { type: 'string', minLength: 1, maxLength: 253 } as const;
const port = { type: 'integer', minimum: 1, maximum: 65535 } as const;
const email = { type: 'string', minLength: 3, maxLength: 254, pattern: '^[^\\s@<>]+@[^\\s@<>]+$' } as const;

export const mailBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    imap: {
      type: ['object', 'null'],
      required: ['host', 'port', 'secure', 'user'],
      additionalProperties: false,
      properties: {
        host,
        port,
        secure: { type: 'boolean', description: 'TLS from the first byte (993); false = STARTTLS/plain' },
        user: { type: 'string', minLength: 1, maxLength: 320 },
        password: { type: 'string', maxLength: 1000, description: 'write-only' },
        mailbox: { type: 'string', minLength: 1, maxLength: 200, default: 'INBOX' },
        tls_verify: { type: 'boolean', default: true, description: 'false accepts a self-signed server certificate' },
      },
    },
    smtp: {
      type: ['object', 'null'],
      required: ['host', 'port', 'secure', 'from'],
      additionalProperties: false,
      properties: {
        host,
        port,
        secure: { type: 'boolean' },
        user: { type: 'string', minLength: 1, maxLength: 320 },
        password: { type: 'string', maxLength: 1000, description: 'write-only' },
        from: email,
        tls_verify: { type: 'boolean', default: true },
      },
    },
  },
} as const;

export const mailResponse = {
  type: 'object',
  properties: {
    rut_company: { type: 'string' },
    imap: {
      type: ['object', 'null'],
      properties: { host: { type: 'string' }, port: { type: 'integer' }, secure: { type: 'boolean' }, user: { type: 'string' }, mailbox: { type: 'string' }, tls_verify: { type: 'boolean' }, password_set: { type: 'boolean' } },
    },
    smtp: {
      type: ['object', 'null'],
      properties: { host: { type: 'string' }, port: { type: 'integer' }, secure: { type: 'boolean' }, user: { type: ['string', 'null'] }, from: { type: 'string' }, tls_verify: { type: 'boolean' }, password_set: { type: 'boolean' } },
    },
    updated_at: { type: 'string' },
  },
} as const;

export const rutReceptorBody = { type: 'object', required: ['rut_receptor'], additionalProperties: false, properties: { rut_receptor: rut } } as const;
export const rutReceptorQuery = { type: 'object', required: ['rut_receptor'], properties: { rut_receptor: rut } } as const;

const receivedResult = {
  type: 'object',
  properties: {
    received_id: { type: ['integer', 'null'] },
    rut_emisor: { type: ['string', 'null'] },
    dte_type: { type: ['string', 'null'] },
    folio: { type: ['integer', 'null'] },
    estado_recep_dte: { type: 'integer' },
    valid: { type: 'boolean' },
    duplicate: { type: 'boolean' },
    errors: { type: 'array', items: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } },
  },
} as const;

export const ingestResponse = {
  type: 'object',
  properties: {
    messages: { type: 'integer' },
    documents_stored: { type: 'integer' },
    duplicates: { type: 'integer' },
    skipped: {
      type: 'array',
      items: { type: 'object', properties: { message_id: { type: ['string', 'null'] }, uid: { type: ['integer', 'null'] }, filename: { type: ['string', 'null'] }, reason: { type: 'string' } } },
    },
    results: { type: 'array', items: receivedResult },
  },
} as const;

export const receivedSummary = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    rut_receptor: { type: 'string' },
    envelope_id: { type: 'integer' },
    rut_emisor: { type: 'string' },
    dte_type: { type: 'string' },
    folio: { type: 'integer' },
    fch_emis: { type: ['string', 'null'] },
    mnt_total: { type: ['integer', 'null'] },
    rut_recep: { type: ['string', 'null'] },
    correo_emisor: { type: ['string', 'null'] },
    valid: { type: 'boolean' },
    estado_recep_dte: { type: 'integer' },
    recep_dte_glosa: { type: ['string', 'null'] },
    status: { type: 'string', enum: ['received', 'acknowledged', 'accepted', 'accepted_with_discrepancies', 'rejected', 'claimed'] },
    deadline: { type: 'string' },
    received_at: { type: 'string' },
    updated_at: { type: 'string' },
  },
} as const;

export const receivedDetail = {
  type: 'object',
  properties: {
    ...receivedSummary.properties,
    verification: { type: 'object', additionalProperties: true },
    envelope: { type: 'object', additionalProperties: true },
    responses: { type: 'array', items: { type: 'object', additionalProperties: true } },
  },
} as const;

export const receivedListQuery = {
  type: 'object',
  required: ['rut_receptor'],
  properties: {
    rut_receptor: rut,
    rut_emisor: rut,
    dte_type: { type: 'string', pattern: '^[0-9]{2,3}$' },
    status: receivedSummary.properties.status,
    limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
    before: { type: 'integer', minimum: 1 },
  },
} as const;

export const receivedListResponse = { type: 'object', properties: { items: { type: 'array', items: receivedSummary }, next_before: { type: ['integer', 'null'] } } } as const;

export const sendResponseBody = {
  type: 'object',
  required: ['received_id', 'response'],
  additionalProperties: false,
  properties: {
    received_id: { type: 'integer', minimum: 1 },
    response: { type: 'string', enum: ['acuse_recibo', 'aceptar', 'aceptar_con_discrepancias', 'rechazar', 'recibo_mercaderias'] },
    glosa: { type: 'string', minLength: 1, maxLength: 256 },
    recinto: { type: 'string', minLength: 1, maxLength: 80, description: 'where the goods were received (recibo_mercaderias)' },
    cod_rch_dsc: { type: 'integer', minimum: -999, maximum: -1, description: 'reason code of a rejection or discrepancy' },
    register_rcv: { type: 'boolean', default: true, description: 'also register the act in the SII RCV (33, 34, 43): aceptar → ACD, rechazar → RCD, recibo_mercaderias → ERM' },
    rcv_action: { type: 'string', enum: ['ACD', 'RCD', 'ERM', 'RFP', 'RFT'], description: 'override: RFP/RFT (claim for partial/total lack of goods) with rechazar' },
  },
} as const;

export const sendResponseResponse = {
  type: 'object',
  properties: {
    received_id: { type: 'integer' },
    response: { type: 'string' },
    kind: { type: 'string' },
    status: { type: 'string' },
    response_id: { type: 'integer' },
    sent_to: { type: 'string' },
    smtp_message_id: { type: ['string', 'null'] },
    rcv: { type: ['object', 'null'], properties: { action: { type: 'string' }, cod_resp: { type: 'integer' }, desc: { type: 'string' } } },
    xml: { type: 'string' },
    errors: { type: 'array', items: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } },
  },
} as const;
