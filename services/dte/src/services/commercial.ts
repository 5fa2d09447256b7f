/**
 * Commercial responses to a received DTE (sii-spec §14): the signed XML to the issuer by e-mail
 * (RecepcionEnvio for the acuse de recibo of the envelope, ResultadoDTE for acceptance or
 * rejection, EnvioRecibos for the receipt of goods — Ley 19.983) and, for the legally relevant
 * acts, the registration in the SII's RCV (ACD / RCD / ERM / RFP / RFT).
 *
 * Order: preconditions (mail settings, an address, a certificate) → RCV registration (a refusal
 * ends here, recorded with the SII's codResp and nothing mailed) → build, sign, send by SMTP → one
 * transaction with the `dte_response` rows, the new status and the `dte.response_sent` event.
 */
import { TIPOS_RESPUESTA, buildEnvioRecibos, buildRecepcionEnvio, buildResultadoDte, siiTimestamp, toBytes, type EstadoRecepDte, type EstadoRecepEnv, type RespuestaCaratula } from '@timbre/dte';
import { MailError, sendMail, type SmtpSettings } from '@timbre/mail';
import type { AccionDoc, RcvRespuesta } from '@timbre/sii';
import {
  findReceivedDte,
  findReceivedEnvelope,
  insertDteResponse,
  loadCompanyMail,
  recordEvent,
  writeTransaction,
  type Database,
  type DteResponseKind,
  type ReceivedDteRow,
  type ReceivedDteStatus,
  type SecretBox,
} from '@timbre/store';
import type { FastifyBaseLogger } from 'fastify';
import { sql, type Kysely } from 'kysely';
import { ServiceError, notFound } from '../problems.js';
import type { SignerCache } from './signers.js';

export const RESPONSES = ['acuse_recibo', 'aceptar', 'aceptar_con_discrepancias', 'rechazar', 'recibo_mercaderias'] as const;
export type ResponseName = (typeof RESPONSES)[number];

/** What each response registers in the RCV by default (the acuse de recibo of the envelope registers nothing). */
export const RCV_ACTION: Record<ResponseName, AccionDoc | undefined> = {
  acuse_recibo: undefined,
  aceptar: 'ACD',
  aceptar_con_discrepancias: 'ACD',
  rechazar: 'RCD',
  recibo_mercaderias: 'ERM',
};
/** Only these types are registered in the RCV (sii-spec §14.2). */
export const RCV_TYPES: ReadonlySet<number> = new Set([33, 34, 43]);

const KIND: Record<ResponseName, DteResponseKind> = {
  acuse_recibo: 'RecepcionEnvio',
  aceptar: 'ResultadoDTE',
  aceptar_con_discrepancias: 'ResultadoDTE',
  rechazar: 'ResultadoDTE',
  recibo_mercaderias: 'EnvioRecibos',
};

export interface CommercialDeps {
  db: Kysely<Database>;
  box: SecretBox;
  signers: SignerCache;
  log: FastifyBaseLogger;
  now: () => Date;
}

export interface SendResponseInput {
  receivedId: number;
  response: ResponseName;
  glosa?: string;
  recinto?: string;
  codRchDsc?: number;
  registerRcv: boolean;
  rcvAction?: AccionDoc;
  /** Authorization, checked once the row (and its company) is known; throw to refuse. */
  authorize: (rutCompany: string) => Promise<unknown>;
}

export interface SendResponseResult {
  received_id: number;
  response: ResponseName;
  kind: DteResponseKind;
  status: ReceivedDteStatus;
  response_id: number;
  sent_to: string;
  smtp_message_id: string | null;
  rcv: { action: AccionDoc; cod_resp: number; desc: string } | null;
  xml: string;
  errors: Array<{ code: string; message: string }>;
}

const emailOf = (s: string | null | undefined): string | undefined => {
  if (!s) return undefined;
  const m = /<([^<>\s]+@[^<>\s]+)>/.exec(s) ?? /([^\s<>"',;]+@[^\s<>"',;]+)/.exec(s);
  return m?.[1];
};

function nextStatus(response: ResponseName, action: AccionDoc | undefined, current: ReceivedDteStatus): ReceivedDteStatus {
  if (action === 'RFP' || action === 'RFT') return 'claimed';
  switch (response) {
    case 'acuse_recibo':
      return current === 'received' ? 'acknowledged' : current;
    case 'aceptar':
      return 'accepted';
    case 'aceptar_con_discrepancias':
      return 'accepted_with_discrepancies';
    case 'rechazar':
      return 'rejected';
    case 'recibo_mercaderias':
      return current === 'received' || current === 'acknowledged' ? 'accepted' : current;
  }
}

const mailProblem = (e: MailError | (Error & { code?: string })): ServiceError => {
  const code = e.code === 'ERR_MAIL_AUTH' ? 'ERR_MAIL_AUTH' : e.code === 'ERR_MAIL_PROTOCOL' ? 'ERR_MAIL_PROTOCOL' : 'ERR_MAIL_UNAVAILABLE';
  return new ServiceError(code, code === 'ERR_MAIL_UNAVAILABLE' ? 503 : 502, `the response could not be sent by e-mail: ${e.message}`, {}, [{ field: 'smtp', message: e.message, code }]);
};

export async function sendResponse(deps: CommercialDeps, input: SendResponseInput): Promise<SendResponseResult> {
  const { db } = deps;
  const row = await findReceivedDte(db, input.receivedId);
  if (row === undefined) throw notFound(`received document ${input.receivedId}`);
  try {
    await input.authorize(row.rut_company);
  } catch (e) {
    // Another company's document: do not reveal that it exists (401s pass through).
    if ((e as { status?: number }).status === 403) throw notFound(`received document ${input.receivedId}`);
    throw e;
  }
  const envelope = await findReceivedEnvelope(db, Number(row.envelope_id));
  if (envelope === undefined) throw new Error(`received envelope ${row.envelope_id} vanished`);
  const kind = KIND[input.response];
  if (input.rcvAction !== undefined && input.response !== 'rechazar' && (input.rcvAction === 'RFP' || input.rcvAction === 'RFT' || input.rcvAction === 'RCD')) {
    throw new ServiceError('ERR_RESPONSE_NOT_ALLOWED', 422, `rcv_action ${input.rcvAction} is a claim: only with response "rechazar"`, {}, [{ field: 'rcv_action', message: 'claims go with response "rechazar"', code: 'ERR_RESPONSE_NOT_ALLOWED' }]);
  }
  if (input.response === 'recibo_mercaderias' && !input.recinto) {
    throw new ServiceError('ERR_RESPONSE_NOT_ALLOWED', 422, 'recibo_mercaderias needs the place where the goods were received', {}, [{ field: 'recinto', message: 'required for recibo_mercaderias', code: 'ERR_RESPONSE_NOT_ALLOWED' }]);
  }
  if (input.response === 'acuse_recibo' && input.rcvAction !== undefined) {
    throw new ServiceError('ERR_RESPONSE_NOT_ALLOWED', 422, 'the acuse de recibo of an envelope registers nothing in the RCV', {}, [{ field: 'rcv_action', message: 'not with acuse_recibo', code: 'ERR_RESPONSE_NOT_ALLOWED' }]);
  }

  if (kind !== 'RecepcionEnvio' && !TIPOS_RESPUESTA.includes(row.tipo_dte)) {
    throw new ServiceError('ERR_RESPONSE_NOT_ALLOWED', 422, `a ${kind} cannot name a type ${row.tipo_dte} document (only ${TIPOS_RESPUESTA.join(', ')})`, {}, [{ field: 'received_id', message: `type ${row.tipo_dte}`, code: 'ERR_RESPONSE_NOT_ALLOWED' }]);
  }

  // Preconditions: mail settings, an address, a certificate — before anything is registered or sent.
  const mail = await loadCompanyMail(db, deps.box, row.rut_company);
  if (!mail.smtp) {
    throw new ServiceError('ERR_MAIL_NOT_CONFIGURED', 409, `company ${row.rut_company} has no SMTP settings: PUT /api/v1/companies/${row.rut_company}/mail`, {}, [{ field: 'smtp', message: 'not configured', code: 'ERR_MAIL_NOT_CONFIGURED' }]);
  }
  // The exchange mailbox that sent the envelope first (sii-spec §14.1: answers go back to the
  // intercambio address); CorreoEmisor (a commercial contact) for uploads without a sender.
  const to = emailOf(envelope.sender) ?? emailOf(row.correo_emisor);
  if (to === undefined) {
    throw new ServiceError('ERR_RESPONSE_NOT_ALLOWED', 409, 'neither the envelope (its sender) nor the DTE (CorreoEmisor) gives an address to answer to', {}, [{ field: 'received_id', message: 'no issuer address', code: 'ERR_RESPONSE_NOT_ALLOWED' }]);
  }
  const now = deps.now();
  const signer = await deps.signers.forCompany(row.rut_company, now);

  // RCV first: the SII decides whether the act is possible (e.g. no claim after an acceptance).
  const action = input.rcvAction ?? RCV_ACTION[input.response];
  let rcv: SendResponseResult['rcv'] = null;
  if (action !== undefined && input.registerRcv && RCV_TYPES.has(row.tipo_dte)) {
    const r: RcvRespuesta = await signer.sii.rcv.ingresarAceptacionReclamoDoc({ rutEmisor: row.rut_emisor, tipoDoc: row.tipo_dte, folio: Number(row.folio), accionDoc: action });
    rcv = { action, cod_resp: r.codResp, desc: r.descResp };
    if (r.codResp !== 0 && r.codResp !== 7) {
      await insertDteResponse(db, { rutCompany: row.rut_company, received_dte_id: row.id, envelope_id: envelope.id, kind: 'RCV', response: input.response, rcv_action: action, rcv_cod_resp: r.codResp, rcv_desc: r.descResp, now });
      deps.log.info({ receivedId: row.id, action, codResp: r.codResp }, 'RCV refused the registration');
      throw new ServiceError('ERR_RCV_REFUSED', 409, `the SII refused ${action} for ${row.tipo_dte}/${row.folio} of ${row.rut_emisor}: ${r.codResp} ${r.descResp}`, { sii_cod_resp: r.codResp, sii_desc: r.descResp, rcv_action: action, received_id: Number(row.id) }, [
        { field: 'response', message: `SII codResp ${r.codResp}: ${r.descResp}`, code: 'ERR_RCV_REFUSED' },
      ]);
    }
  }

  // Build and sign.
  const idRespuesta = await nextResponseNumber(db, row.rut_company);
  const tmst = siiTimestamp(now);
  const caratula: RespuestaCaratula = { rutResponde: row.rut_company, rutRecibe: row.rut_emisor, idRespuesta, mailContacto: mail.smtp.from, tmstFirmaResp: tmst };
  const key = signer.certificado.signingKey;
  const doc = docData(row);
  let xml: string;
  if (kind === 'RecepcionEnvio') {
    const siblings = await db.selectFrom('received_dte').selectAll().where('envelope_id', '=', envelope.id).orderBy('id').execute();
    xml = buildRecepcionEnvio(
      {
        caratula,
        nmbEnvio: (envelope.filename ?? `envio-${envelope.id}.xml`).slice(0, 80),
        fchRecep: siiTimestamp(new Date(envelope.received_at)),
        codEnvio: Number(envelope.id),
        envioDteId: envelope.envio_dte_id ?? 'SetDoc',
        ...(envelope.digest ? { digest: envelope.digest } : {}),
        rutEmisor: envelope.rut_emisor ?? row.rut_emisor,
        rutReceptor: row.rut_company,
        estadoRecepEnv: envelope.estado_recep_env as EstadoRecepEnv,
        ...(input.glosa ?? envelope.glosa ? { recepEnvGlosa: (input.glosa ?? envelope.glosa) as string } : {}),
        documentos: siblings.filter((x) => TIPOS_RESPUESTA.includes(x.tipo_dte)).map((s) => ({ ...docData(s), estadoRecepDte: s.estado_recep_dte as EstadoRecepDte, ...(s.recep_dte_glosa ? { recepDteGlosa: s.recep_dte_glosa } : {}) })),
      },
      key,
    );
  } else if (kind === 'ResultadoDTE') {
    const estadoDte = input.response === 'aceptar' ? 0 : input.response === 'aceptar_con_discrepancias' ? 1 : 2;
    xml = buildResultadoDte(
      {
        caratula,
        resultados: [
          {
            ...doc,
            codEnvio: Number(envelope.id),
            estadoDte,
            ...(input.glosa ? { estadoDteGlosa: input.glosa } : {}),
            ...(input.codRchDsc !== undefined ? { codRchDsc: input.codRchDsc } : {}),
          },
        ],
      },
      key,
    );
  } else {
    xml = buildEnvioRecibos(
      {
        caratula: { rutResponde: row.rut_company, rutRecibe: row.rut_emisor, mailContacto: mail.smtp.from, tmstFirmaEnv: tmst },
        recibos: [{ tipoDoc: doc.tipoDte, folio: doc.folio, fchEmis: doc.fchEmis, rutEmisor: doc.rutEmisor, rutRecep: doc.rutRecep, mntTotal: doc.mntTotal, recinto: input.recinto as string, rutFirma: signer.certificado.rut, tmstFirmaRecibo: tmst }],
      },
      key,
    );
  }

  // Send.
  const smtp: SmtpSettings = {
    host: mail.smtp.host,
    port: mail.smtp.port,
    secure: mail.smtp.secure,
    from: mail.smtp.from,
    rejectUnauthorized: mail.smtp.tlsVerify,
    ...(mail.smtp.user !== undefined ? { user: mail.smtp.user } : {}),
    ...(mail.smtp.password !== undefined ? { password: mail.smtp.password } : {}),
  };
  const root = kind === 'EnvioRecibos' ? 'EnvioRecibos' : 'RespuestaDTE';
  const filename = `${root}_${row.rut_company}_T${row.tipo_dte}F${row.folio}.xml`;
  let smtpMessageId: string | null = null;
  let sendError: ServiceError | undefined;
  try {
    const info = (await sendMail(smtp, {
      to,
      subject: `${root} ${input.response} T${row.tipo_dte} F${row.folio} ${row.rut_emisor}`,
      text: `${root} (${input.response}) de ${row.rut_company} para el DTE tipo ${row.tipo_dte} folio ${row.folio} emitido por ${row.rut_emisor}.`,
      attachments: [{ filename, content: toBytes(xml), contentType: 'application/xml' }],
    })) as unknown;
    smtpMessageId = (info as { messageId?: string } | undefined)?.messageId ?? null;
  } catch (e) {
    if (!(e instanceof MailError) && !/^ERR_MAIL_/.test(String((e as { code?: unknown })?.code))) throw e;
    sendError = mailProblem(e as MailError);
  }

  if (sendError !== undefined && rcv === null) {
    // Nothing happened but the attempt: record it and tell the caller.
    await insertDteResponse(db, { rutCompany: row.rut_company, received_dte_id: row.id, envelope_id: envelope.id, kind, response: input.response, xml, sent_to: to, send_error: sendError.message, now });
    throw sendError;
  }

  const status = nextStatus(input.response, action, row.status);
  const saved = await writeTransaction(db, async (trx) => {
    const resp = await insertDteResponse(trx, {
      rutCompany: row.rut_company,
      received_dte_id: row.id,
      envelope_id: envelope.id,
      kind,
      response: input.response,
      xml,
      sent_to: to,
      smtp_message_id: smtpMessageId,
      send_error: sendError?.message ?? null,
      now,
    });
    if (rcv !== null) {
      await insertDteResponse(trx, { rutCompany: row.rut_company, received_dte_id: row.id, envelope_id: envelope.id, kind: 'RCV', response: input.response, rcv_action: rcv.action, rcv_cod_resp: rcv.cod_resp, rcv_desc: rcv.desc, now });
    }
    const ids = kind === 'RecepcionEnvio' ? (await trx.selectFrom('received_dte').select('id').where('envelope_id', '=', envelope.id).where('status', '=', 'received').execute()).map((r) => r.id) : [row.id];
    if (kind === 'RecepcionEnvio') {
      if (ids.length > 0) await trx.updateTable('received_dte').set({ status: 'acknowledged', updated_at: now.toISOString() }).where('id', 'in', ids).execute();
    } else if (status !== row.status) {
      await trx.updateTable('received_dte').set({ status, updated_at: now.toISOString() }).where('id', '=', row.id).execute();
    }
    await recordEvent(trx, {
      rutCompany: row.rut_company,
      eventType: 'dte.response_sent',
      aggregateKey: `received:${row.id}`,
      payload: {
        received_id: Number(row.id),
        rut_emisor: row.rut_emisor,
        dte_type: String(row.tipo_dte),
        folio: Number(row.folio),
        response: input.response,
        kind,
        old_status: row.status,
        new_status: status,
        sent_to: to,
        mail_error: sendError?.message ?? null,
        rcv_action: rcv?.action ?? null,
        rcv_cod_resp: rcv?.cod_resp ?? null,
      },
      now,
    });
    return resp;
  });
  deps.log.info({ receivedId: row.id, response: input.response, kind, rcv: rcv?.action, to }, 'commercial response sent');
  return {
    received_id: Number(row.id),
    response: input.response,
    kind,
    status,
    response_id: Number(saved.id),
    sent_to: to,
    smtp_message_id: smtpMessageId,
    rcv,
    xml,
    errors: sendError ? [{ code: sendError.code, message: sendError.message }] : [],
  };
}

function docData(r: ReceivedDteRow) {
  return {
    tipoDte: r.tipo_dte,
    folio: Number(r.folio),
    fchEmis: r.fch_emis ?? '',
    rutEmisor: r.rut_emisor,
    rutRecep: r.rut_recep ?? r.rut_company,
    mntTotal: r.mnt_total === null ? 0 : Number(r.mnt_total),
  };
}

/** IdRespuesta: the company's responses so far + 1. */
async function nextResponseNumber(db: Kysely<Database>, rutCompany: string): Promise<number> {
  const r = await db.selectFrom('dte_response').select(sql<number>`count(*)`.as('n')).where('rut_company', '=', rutCompany).executeTakeFirst();
  return Number(r?.n ?? 0) + 1;
}
