import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

/** The company's exchange mailbox (IMAP, to read received DTEs) and outgoing mail (SMTP, responses). */
export interface CompanyMailTable {
  rut_company: string;
  imap_host: string | null;
  imap_port: number | null;
  /** 1 = TLS from the start, 0 = plain/STARTTLS. */
  imap_secure: number | null;
  imap_user: string | null;
  /** Sealed with the SecretBox; never returned by the API. */
  imap_password_encrypted: string | null;
  mailbox: string | null;
  /** 0: accept any TLS certificate (self-signed test servers); 1: verify. */
  imap_tls_verify: number;
  smtp_host: string | null;
  smtp_port: number | null;
  smtp_secure: number | null;
  smtp_user: string | null;
  /** Sealed with the SecretBox; never returned by the API. */
  smtp_password_encrypted: string | null;
  smtp_from: string | null;
  smtp_tls_verify: number;
  updated_at: string;
}

/** Where the inbox was last read (informational: messages are marked in the mailbox itself). */
export interface InboxCursorTable {
  rut_company: string;
  mailbox: string;
  uid_validity: string;
  last_uid: number | null;
  checked_at: string;
}

export type ReceivedSource = 'imap' | 'upload';

/** One received file (an EnvioDTE, usually), its bytes as received. */
export interface ReceivedEnvelopeTable {
  id: Generated<number>;
  rut_company: string;
  source: ReceivedSource;
  message_id: string | null;
  uid: number | null;
  /** The mail's From address (where responses go unless the DTE names CorreoEmisor). */
  sender: string | null;
  filename: string | null;
  /** Hex SHA-256 of the bytes: the same file twice is stored once per company. */
  sha256: string;
  xml: ColumnType<Buffer, Buffer, Buffer>;
  root: string | null;
  /** SetDTE@ID */
  envio_dte_id: string | null;
  digest: string | null;
  rut_emisor: string | null;
  /** RecepcionEnvio EstadoRecepEnv: 0 conforme, 1 schema, 2 firma, 3 RUT receptor, 90 repetido, 91 ilegible, 99 otros. */
  estado_recep_env: number;
  glosa: string | null;
  received_at: string;
}

export type ReceivedDteStatus = 'received' | 'acknowledged' | 'accepted' | 'accepted_with_discrepancies' | 'rejected' | 'claimed';
export const RECEIVED_DTE_STATUSES = ['received', 'acknowledged', 'accepted', 'accepted_with_discrepancies', 'rejected', 'claimed'] as const satisfies readonly ReceivedDteStatus[];

/** One received DTE (unique per company, issuer, type and folio). */
export interface ReceivedDteTable {
  id: Generated<number>;
  rut_company: string;
  envelope_id: number;
  rut_emisor: string;
  tipo_dte: number;
  folio: number;
  fch_emis: string | null;
  mnt_total: number | null;
  rut_recep: string | null;
  correo_emisor: string | null;
  /** The `<DTE>` element as received (decoded text). */
  xml: string;
  /** The verification report (verifyXml's document report, JSON). */
  verification_json: string;
  valid: number;
  /** RecepcionDTE EstadoRecepDTE: 0 ok, 1 firma, 2 RUT emisor, 3 RUT receptor, 4 repetido, 99 otros. */
  estado_recep_dte: number;
  recep_dte_glosa: string | null;
  status: ReceivedDteStatus;
  /** 8 calendar days after reception, ISO-8601 UTC. */
  deadline: string;
  /** When `dte.response_due` was recorded (once). */
  due_notified_at: string | null;
  received_at: string;
  updated_at: string;
}

export type DteResponseKind = 'RecepcionEnvio' | 'ResultadoDTE' | 'EnvioRecibos' | 'RCV';

/** A response sent for a received DTE (or envelope): the signed XML and where it went, or an RCV registration. */
export interface DteResponseTable {
  id: Generated<number>;
  rut_company: string;
  received_dte_id: number | null;
  envelope_id: number | null;
  kind: DteResponseKind;
  response: string;
  xml: string | null;
  sent_to: string | null;
  smtp_message_id: string | null;
  send_error: string | null;
  rcv_action: string | null;
  rcv_cod_resp: number | null;
  rcv_desc: string | null;
  created_at: string;
}

export type CompanyMailRow = Selectable<CompanyMailTable>;
export type CompanyMailUpdate = Updateable<CompanyMailTable>;
export type InboxCursorRow = Selectable<InboxCursorTable>;
export type ReceivedEnvelopeRow = Selectable<ReceivedEnvelopeTable>;
export type NewReceivedEnvelopeRow = Insertable<ReceivedEnvelopeTable>;
export type ReceivedDteRow = Selectable<ReceivedDteTable>;
export type NewReceivedDteRow = Insertable<ReceivedDteTable>;
export type DteResponseRow = Selectable<DteResponseTable>;
export type NewDteResponseRow = Insertable<DteResponseTable>;
