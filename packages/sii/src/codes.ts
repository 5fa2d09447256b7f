/**
 * A machine-readable catalogue of the codes the SII answers with, per service. Every entry cites the
 * section of `shared/docs/sii-spec.md` it comes from (`source`), and says whether the Spanish text is
 * the SII's own wording as quoted there or in the sources it cites (`verbatim: true`) or a faithful
 * rendering of a meaning the sources give in other words (`verbatim: false`).
 *
 * The same code can mean different things in different services (`0` is "Upload OK" for DTEUpload
 * and "Acción Completada OK" for the RCV), so lookups take the service when it is known.
 */

export type SiiCodeService =
  /** CrSeed getSeed ESTADO (sii-spec §9). */
  | 'auth.seed'
  /** GetTokenFromSeed getToken ESTADO (sii-spec §9). */
  | 'auth.token'
  /** DTEUpload RECEPCIONDTE/STATUS (sii-spec §10). */
  | 'upload'
  /** QueryEstUp ESTADO of an envelope, also the boleta REST `estado` of an envío (sii-spec §11.1, §12). */
  | 'estado.envio'
  /** QueryEstDte ESTADO of one DTE, also the boleta REST `codigo` of one boleta (sii-spec §11.2, §12). */
  | 'estado.dte'
  /** RCV registro de aceptación/reclamo codResp (sii-spec §14.2). */
  | 'rcv'
  /** Per-document rejection/reparo codes of the SII's review (`XXX-n-nnn`; sii-spec §3–§8, §11.1). */
  | 'documento';

export type SiiCodeOutcome =
  /** The operation succeeded. */
  | 'ok'
  /** Not final yet: ask again later. */
  | 'pending'
  | 'accepted'
  | 'accepted_with_reparos'
  | 'rejected'
  /** An upload the SII already had (STATUS 99). */
  | 'duplicate'
  /** The token is no longer valid: get a new one and repeat. */
  | 'token_expired'
  /** The request was refused (permissions, input, state rules). */
  | 'error'
  /** A server-side failure the SII itself says to retry later. */
  | 'retry_later'
  /** Information, neither success nor failure (lists, "no events"). */
  | 'info';

export interface SiiCodeInfo {
  code: string;
  service: SiiCodeService;
  /** Spanish, as the SII says it (see `verbatim`). */
  meaning: string;
  meaningEn: string;
  /** True when asking again with the same input cannot give a different answer. */
  final: boolean;
  outcome: SiiCodeOutcome;
  /** What to do about it. */
  fix?: string;
  /** Section of sii-spec.md (and through it the primary source) the entry comes from. */
  source: string;
  /** True when `meaning` quotes the SII's wording; false when it renders the documented meaning. */
  verbatim: boolean;
}

type Entry = Omit<SiiCodeInfo, 'service'>;

const e = (
  code: string,
  meaning: string,
  meaningEn: string,
  outcome: SiiCodeOutcome,
  final: boolean,
  source: string,
  verbatim: boolean,
  fix?: string,
): Entry => ({ code, meaning, meaningEn, outcome, final, source, verbatim, ...(fix !== undefined ? { fix } : {}) });

// ---- sii-spec §9: CrSeed getSeed ESTADO (AUTH §5.2.3.1, ch.8)
const AUTH_SEED: Entry[] = [
  e('00', 'Semilla creada', 'Seed created', 'ok', true, 'sii-spec §9', false),
  e('-1', 'Error: retorno campo ESTADO', 'Seed service error', 'retry_later', false, 'sii-spec §9', false, 'Ask for a new seed later.'),
  e('-2', 'Error retorno', 'Seed service error', 'retry_later', false, 'sii-spec §9', false, 'Ask for a new seed later.'),
];

// ---- sii-spec §9: GetTokenFromSeed getToken ESTADO (AUTH §5.2.2)
const AUTH_TOKEN: Entry[] = [
  e('00', 'Token Creado', 'Token created', 'ok', true, 'sii-spec §9', true),
  e('01', 'Error: XML de entrada no válido', 'Invalid input XML', 'error', true, 'sii-spec §9', false, 'Send the signed <getToken><item><Semilla>…</Semilla></item><Signature/></getToken> escaped in pszXml.'),
  e('02', 'Error: XML de entrada no válido', 'Invalid input XML', 'error', true, 'sii-spec §9', false, 'Send the signed getToken document escaped in pszXml.'),
  e('03', 'Error: XML de entrada no válido', 'Invalid input XML', 'error', true, 'sii-spec §9', false, 'Send the signed getToken document escaped in pszXml.'),
  e('04', 'Error: el XML no trae firma (Signature)', 'No Signature in the document', 'error', true, 'sii-spec §9', false, 'Sign getToken with Reference URI="" and the enveloped transform.'),
  e('05', 'Error: firma no válida', 'Invalid signature', 'error', true, 'sii-spec §9', false, 'Sign the getToken document as sent (no re-serialization after signing), RSA-SHA1, C14N.'),
  e('06', 'Error: el XML no trae la Semilla', 'No Semilla in the document', 'error', true, 'sii-spec §9', false),
  e('07', 'Error: MessageException', 'Server message exception', 'retry_later', false, 'sii-spec §9', false, 'Start again with a new seed.'),
  e('08', 'Error: TIME-OUT DEL SEED / NO Existe SEED', 'Seed expired (2 minutes) or unknown', 'error', false, 'sii-spec §9', true, 'Start again with a new seed and sign it at once.'),
  e('09', 'Error: MessageException', 'Server message exception', 'retry_later', false, 'sii-spec §9', false, 'Start again with a new seed.'),
  e('10', 'ERROR RETORNO DATOS', 'Error returning data', 'retry_later', false, 'sii-spec §9', true, 'Start again with a new seed; if it persists check the SignedInfo is exactly what was signed.'),
  e('11', 'Error: el XML no trae certificado', 'No X509Certificate in KeyInfo', 'error', true, 'sii-spec §9', false, 'Include KeyValue and X509Data/X509Certificate.'),
  e('12', 'Error: MessageException', 'Server message exception', 'retry_later', false, 'sii-spec §9', false, 'Start again with a new seed.'),
  e('21', 'Error: la llave pública no corresponde al certificado', 'Public key does not match the certificate', 'error', true, 'sii-spec §9', false, 'KeyValue/Modulus must be the certificate\'s modulus.'),
  e('-3', 'Error de autenticación', 'Authentication error', 'error', true, 'sii-spec §9', false, 'Check the certificate is valid and registered in the SII.'),
  e('-07', 'RUT no habilitado para autenticación con certificado', 'RUT not enabled for certificate authentication', 'error', true, 'sii-spec §9', false, 'Register the certificate for the person in the SII (sii.cl, certificado digital).'),
];

// ---- sii-spec §10: DTEUpload STATUS (UPL §2.1; LDTE SendXmlDocumentJob.php for 99)
const UPLOAD: Entry[] = [
  e('0', 'Upload OK', 'Upload OK: received (not yet validated); TRACKID follows', 'ok', true, 'sii-spec §10', true, 'Poll QueryEstUp with the track id: STATUS 0 means received, not accepted.'),
  e('1', 'El Sender no tiene permiso para enviar', 'The sender (certificate holder) has no permission to send for the company', 'error', true, 'sii-spec §10', false, 'In sii.cl the company must authorize the certificate holder to send DTEs (and rutSender must be the signer).'),
  e('2', 'Error en tamaño del archivo (muy grande o muy chico)', 'File size error (too big or too small)', 'error', true, 'sii-spec §10', false, 'Check the file and send it as one non-chunked body with Content-Length.'),
  e('3', 'Archivo cortado (tamaño <> al parámetro size)', 'File truncated', 'error', true, 'sii-spec §10', false, 'Send a Buffer body with an explicit Content-Length, never chunked.'),
  e('5', 'No está autenticado', 'Not authenticated (token invalid or expired)', 'token_expired', false, 'sii-spec §10', false, 'Get a new token and upload again (nothing was stored).'),
  e('6', 'Empresa no autorizada a enviar archivos', 'Company not authorized to send files', 'error', true, 'sii-spec §10', false, 'The company must be authorized as electronic issuer in this environment (certificación or producción).'),
  e('7', 'Esquema Invalido', 'Invalid schema', 'error', true, 'sii-spec §10', false, 'Validate against the SII XSDs; lines longer than ~4096 characters also fail (wrap base64).'),
  e('8', 'Firma del Documento', 'Signature error', 'error', true, 'sii-spec §10', false, 'Check the envelope signature and ISO-8859-1 bytes.'),
  e('9', 'Sistema Bloqueado', 'System blocked', 'retry_later', false, 'sii-spec §10', false, 'Retry later.'),
  e('99', 'Archivo ya fue enviado N veces con Trackid X. Debe esperar 900 segundos antes de reintentar', 'Duplicate: the same file was already uploaded (the earlier track id is in the text)', 'duplicate', true, 'sii-spec §10', true, 'Do not upload again: poll the earlier track id.'),
];

// ---- sii-spec §11.1: QueryEstUp ESTADO (LDTE CheckXmlDocumentSentStatusResponse.php; SII estado_envio.pdf)
const ESTADO_ENVIO: Entry[] = [
  e('REC', 'Envío Recibido', 'Envelope received', 'pending', false, 'sii-spec §11.1', false, 'Poll again later.'),
  e('SOK', 'Schema Validado', 'Schema validated', 'pending', false, 'sii-spec §11.1', true, 'Poll again later.'),
  e('CRT', 'Carátula OK', 'Carátula OK', 'pending', false, 'sii-spec §11.1', true, 'Poll again later.'),
  e('FOK', 'Firma de Envío Validada', 'Envelope signature validated', 'pending', false, 'sii-spec §11.1', true, 'Poll again later.'),
  e('PDR', 'Envío en Proceso', 'Envelope being processed', 'pending', false, 'sii-spec §11.1', true, 'Poll again later.'),
  e('PRD', 'Envío en Proceso', 'In process', 'pending', false, 'sii-spec §11.1', false, 'Poll again later.'),
  e('EPR', 'Envío Procesado', 'Envelope processed: the per-type counts say what was accepted, repaired or rejected', 'accepted', true, 'sii-spec §11.1', true, 'Read ACEPTADOS/RECHAZADOS/REPAROS; the per-DTE detail comes in the SII result e-mail.'),
  e('RPR', 'Aceptado con Reparos', 'Accepted with objections (reparos)', 'accepted_with_reparos', true, 'sii-spec §11.1', false),
  e('RLV', 'DTE Aceptado con Reparos Leves', 'Accepted with minor objections', 'accepted_with_reparos', true, 'sii-spec §11.1', true),
  e('RCH', 'DTE Rechazado', 'DTE rejected', 'rejected', true, 'sii-spec §11.1', true, 'See the per-DTE codes in the SII result e-mail (reenvioCorreo).'),
  e('RSC', 'Rechazado por Error en Schema', 'Rejected: schema error', 'rejected', true, 'sii-spec §11.1', true, 'Validate the envelope against the SII XSDs before sending.'),
  e('RCT', 'Rechazado por Error en Carátula', 'Rejected: carátula error', 'rejected', true, 'sii-spec §11.1', true, 'Check RutEmisor, RutEnvia (the signer), RutReceptor 60803000-K, FchResol/NroResol.'),
  e('RFR', 'Rechazado por Error en Firma', 'Rejected: signature error', 'rejected', true, 'sii-spec §11.1', true, 'Send the exact signed ISO-8859-1 bytes; never re-serialize after signing.'),
  e('VOF', 'No se encontró el archivo .xml', 'The .xml file was not found', 'rejected', true, 'sii-spec §11.1', false),
  e('RPT', 'Rechazado por envío repetido', 'Rejected: repeated envelope', 'rejected', true, 'sii-spec §11.1', false),
  e('LSO', 'Schema de Envío de Libro Correcto', 'Book envelope schema correct (books report LSO instead of EPR)', 'accepted', true, 'sii-spec §11.1', true),
  e('LOK', 'Libro aceptado', 'Book accepted (consistent with itself)', 'accepted', true, 'sii-spec §11.1', false),
  e('LTC', 'Libro cuadrado', 'Book totals consistent', 'accepted', true, 'sii-spec §11.1', false),
  e('LRC', 'Libro rechazado: carátula inválida', 'Book rejected: invalid carátula', 'rejected', true, 'sii-spec §11.1', false),
  e('LRH', 'Libro rechazado: descuadrado', 'Book rejected: totals do not square', 'rejected', true, 'sii-spec §11.1', false),
  e('LRF', 'Libro rechazado: error en firma', 'Book rejected: signature error', 'rejected', true, 'sii-spec §11.1', false),
  e('LNC', 'Libro cerrado', 'Book closed', 'rejected', true, 'sii-spec §11.1', false),
  e('001', 'Cookie Inactivo (o Token Inactivo)', 'Cookie inactive', 'token_expired', false, 'sii-spec §11.1', true, 'Get a new token and ask again.'),
  e('002', 'Token Inactivo', 'Token inactive', 'token_expired', false, 'sii-spec §11.1', true, 'Get a new token and ask again.'),
  e('003', 'Token No Existe', 'Token does not exist', 'token_expired', false, 'sii-spec §11.1', true, 'Get a new token and ask again.'),
  e('106', 'Usuario sin permiso de envío', 'The user (certificate holder) has no send permission for the company', 'error', true, 'sii-spec §11.1', true, 'In sii.cl the company must authorize the certificate holder.'),
  e('-1', 'ERROR: RETORNO CAMPO ESTADO, NO EXISTE', 'Error: estado field missing', 'error', false, 'sii-spec §11.1', true),
  e('-2', 'ERROR RETORNO', 'Error returning', 'retry_later', false, 'sii-spec §11.1', true),
  e('-3', 'ERROR: RUT USUARIO NO EXISTE', 'Error: user RUT does not exist', 'error', true, 'sii-spec §11.1', true),
  e('-4', 'ERROR OBTENCION DE DATOS', 'Error obtaining data', 'retry_later', false, 'sii-spec §11.1', true),
  e('-5', 'ERROR RETORNO DATOS', 'Error returning data', 'retry_later', false, 'sii-spec §11.1', true),
  e('-6', 'ERROR: USUARIO NO AUTORIZADO', 'Error: user not authorized', 'error', true, 'sii-spec §11.1', true, 'The certificate holder must be authorized by the company in sii.cl.'),
  e('-7', 'ERROR RETORNO DATOS', 'Error returning data', 'retry_later', false, 'sii-spec §11.1', true),
  e('-8', 'ERROR: RETORNO DATOS', 'Error returning data', 'retry_later', false, 'sii-spec §11.1', true),
  e('-9', 'ERROR: RETORNO DATOS', 'Error returning data', 'retry_later', false, 'sii-spec §11.1', true),
  e('-10', 'ERROR: VALIDA RUT USUARIO', 'Error validating the user RUT', 'error', true, 'sii-spec §11.1', true),
  e('-11', 'ERR_CODE, SQL_CODE, SRV_CODE', 'Query error detailed in ERR_CODE/SQL_CODE/SRV_CODE: retry', 'retry_later', false, 'sii-spec §11.1', true, 'Ask again later; ERR_CODE 1 (envío of another company, missing parameters) will not change.'),
  e('-12', 'ERROR: RETORNO CONSULTA', 'Error returning the query', 'retry_later', false, 'sii-spec §11.1', true),
  e('-13', 'ERROR RUT USUARIO NULO', 'Error: null user RUT', 'error', true, 'sii-spec §11.1', true),
  e('-14', 'ERROR XML RETORNO DATOS', 'Error in the returned XML', 'retry_later', false, 'sii-spec §11.1', true),
];

// ---- sii-spec §11.2: QueryEstDte ESTADO (LDTE ValidateDocumentResponse.php; SII estado_dte.pdf);
// the boleta REST `codigo` uses the same codes (sii-spec §12).
const ESTADO_DTE: Entry[] = [
  e('DOK', 'Documento Recibido por el SII. Datos Coinciden con los Registrados', 'Received by the SII; data match', 'accepted', true, 'sii-spec §11.2', true),
  e('DNK', 'Documento Recibido por el SII pero Datos NO Coinciden con los registrados', 'Received by the SII but the data differ', 'error', true, 'sii-spec §11.2', true, 'Check RUT receptor, fecha de emisión (DDMMAAAA) and monto total of the query.'),
  e('FAU', 'Documento No Recibido por el SII', 'Folio not received by the SII', 'error', false, 'sii-spec §11.2', true, 'The DTE was not (yet) received: check the envelope status.'),
  e('FNA', 'Documento No Autorizado', 'Folio not authorized', 'error', true, 'sii-spec §11.2', true),
  e('FAN', 'Documento Anulado', 'Folio annulled', 'error', true, 'sii-spec §11.2', true),
  e('EMP', 'Empresa No Autorizada a Emitir Documentos Tributarios Electrónicos', 'Company not authorized to issue DTEs', 'error', true, 'sii-spec §11.2', true),
  e('TMD', 'Existe nota de débito que modifica texto del documento', 'A debit note modifies the text', 'accepted', true, 'sii-spec §11.2', true),
  e('TMC', 'Existe nota de crédito que modifica texto del documento', 'A credit note modifies the text', 'accepted', true, 'sii-spec §11.2', true),
  e('MMD', 'Existe nota de débito que modifica montos del documento', 'A debit note modifies the amounts', 'accepted', true, 'sii-spec §11.2', true),
  e('MMC', 'Existe nota de crédito que modifica montos del documento', 'A credit note modifies the amounts', 'accepted', true, 'sii-spec §11.2', true),
  e('AND', 'Existe nota de débito que anula documento', 'A debit note annuls the document', 'accepted', true, 'sii-spec §11.2', true),
  e('ANC', 'Existe nota de crédito que anula documento', 'A credit note annuls the document', 'accepted', true, 'sii-spec §11.2', true),
  e('001', 'Cookie Inactivo (o token no existe)', 'Cookie inactive', 'token_expired', false, 'sii-spec §11.2', true, 'Get a new token and ask again.'),
  e('002', 'Token Inactivo', 'Token inactive', 'token_expired', false, 'sii-spec §11.2', true, 'Get a new token and ask again.'),
  e('003', 'Token No Existe', 'Token does not exist', 'token_expired', false, 'sii-spec §11.2', true, 'Get a new token and ask again.'),
  e('-1', 'ERROR: RETORNO CAMPO ESTADO', 'Error: estado field', 'error', false, 'sii-spec §11.2', true),
  e('-2', 'ERROR RETORNO', 'Error returning', 'retry_later', false, 'sii-spec §11.2', true),
  e('-3', 'ERROR RETORNO', 'Error returning', 'retry_later', false, 'sii-spec §11.2', true),
  e('-4', 'ERROR RETORNO', 'Error returning', 'retry_later', false, 'sii-spec §11.2', true),
];

// ---- sii-spec §14.2: RCV registro de aceptación/reclamo codResp (RCLM v1.2 output tables)
const RCV: Entry[] = [
  e('0', 'Acción Completada OK', 'Action completed', 'ok', true, 'sii-spec §14.2', true),
  e('1', 'Rut Emisor Erróneo', 'Wrong issuer RUT', 'error', true, 'sii-spec §14.2', true),
  e('2', 'Número de Folio Erróneo', 'Wrong folio', 'error', true, 'sii-spec §14.2', true),
  e('3', 'Tipo de documento no corresponde', 'Document type not allowed (only 33, 34, 43)', 'error', true, 'sii-spec §14.2', true),
  e('4', 'Acción inválida', 'Invalid action', 'error', true, 'sii-spec §14.2', true, 'accionDoc is one of ACD, RCD, ERM, RFP, RFT.'),
  e('5', 'DTE ya está reclamado', 'DTE already claimed', 'error', true, 'sii-spec §14.2', true),
  e('6', 'No se puede acusar recibo de mercadería de DTE previamente reclamado', 'Cannot acknowledge receipt of a claimed DTE', 'error', true, 'sii-spec §14.2', true),
  e('7', 'Evento registrado previamente', 'Event already registered', 'ok', true, 'sii-spec §14.2', true),
  e('8', 'Pasados 8 días después de la recepción no es posible registrar reclamos o eventos', 'More than 8 days since SII reception', 'error', true, 'sii-spec §14.2', true),
  e('9', 'No existen registros de acuerdo a los parámetros ingresados', 'No records for these parameters', 'error', true, 'sii-spec §14.2', true),
  e('10', 'Documento no emitido y/o recibido en el SII desde el 14 de enero de 2017 en adelante', 'Document older than 2017-01-14', 'error', true, 'sii-spec §14.2', true),
  e('11', 'No se puede reclamar DTE previamente aceptado', 'Cannot claim an accepted DTE', 'error', true, 'sii-spec §14.2', true),
  e('12', 'No se puede dar por aceptado DTE previamente rechazado', 'Cannot accept a claimed DTE', 'error', true, 'sii-spec §14.2', true),
  e('13', 'No se puede reclamar DTE previamente registrado como acuso recibo mercadería', 'Cannot claim a DTE with ERM', 'error', true, 'sii-spec §14.2', true),
  e('14', 'Acción autorizada sólo para empresa receptora o emisora', 'Action only for the receiver (or issuer)', 'error', true, 'sii-spec §14.2', true),
  e('15', 'Listado de eventos del documento', 'List of the document\'s events', 'ok', true, 'sii-spec §14.2', true),
  e('16', 'Documento no presenta eventos de reclamos o acuse de recibo', 'No events', 'info', true, 'sii-spec §14.2', true),
  e('17', 'Acción autorizada solo para empresa receptora', 'Action only for the receiver', 'error', true, 'sii-spec §14.2', true),
  e('18', 'Documento no ha sido recibido', 'Document not received', 'error', false, 'sii-spec §14.2', true),
  e('19', 'Reclamo de mercaderías ya realizado', 'Merchandise claim already made', 'error', true, 'sii-spec §14.2', true),
  e('20', 'Tipo de documento no es cedible', 'Document type not assignable', 'info', true, 'sii-spec §14.2', true),
  e('21', 'DTE No cedible, referenciado por nota de crédito de anulación dentro de los primeros 8 días', 'Not assignable: annulled by a credit note within 8 days', 'info', true, 'sii-spec §14.2', false),
  e('22', 'No existe registro de reclamo o de recepción de mercaderías o servicios', 'No claim or receipt registered', 'info', false, 'sii-spec §14.2', true),
  e('23', 'DTE Cedible, sin reclamos', 'Assignable, no claims', 'ok', false, 'sii-spec §14.2', false),
  e('24', 'DTE No Cedible, reclamado por el receptor', 'Not assignable: claimed', 'info', true, 'sii-spec §14.2', false),
  e('25', 'DTE Cedible, habiendo pasado 8 días se entiende dado el acuse de recibo', 'Assignable: 8 days passed', 'ok', true, 'sii-spec §14.2', false),
  e('-1', 'Error Interno', 'Internal error: retry later', 'retry_later', false, 'sii-spec §14.2', true, 'Retry later.'),
];

// ---- per-document codes of the SII review (`XXX-n-nnn`: n = 3 rechazo, 1/2 reparo; sii-spec §11.1)
const DOCUMENTO: Entry[] = [
  e('DTE-3-101', 'Folio ya fue usado para enviar un DTE con otros datos', 'Folio already used with different data', 'rejected', true, 'sii-spec §4', false, 'Never reuse a folio: allocate strictly monotonic folios per (RUT, type, CAF) and re-issue with a fresh folio.'),
  e('DTE-3-601', 'Folio anulado previo a la emisión', 'Folio annulled before issue', 'rejected', true, 'sii-spec §4', false, 'Re-issue with a new folio.'),
  e('DTE-3-505', 'Firma DTE Incorrecta', 'Wrong DTE signature', 'rejected', true, 'sii-spec §7.1', true, 'Sign the DTE standalone (its own xmlns only), splice its bytes verbatim, sign the canonical form, never re-serialize after signing.'),
  e('CAF-3-517', 'CAF Vencido', 'Expired CAF (6 months for 33, 43, 46, 56, 61)', 'rejected', true, 'sii-spec §4', false, 'Request a new CAF and re-issue with a folio of it.'),
  e('TED-1-646', 'Fecha del timbre anterior a la autorización del CAF', 'TSTED earlier than the CAF authorization date (FA)', 'accepted_with_reparos', true, 'sii-spec §4, §5', false, 'Stamp (TSTED) and date (FchEmis) on or after the CAF FA.'),
  e('TED-3-640', 'Monto del timbre no corresponde', 'TED MNT differs (export documents carry the decimal amount)', 'rejected', true, 'sii-spec §3.3', false, 'MNT = MntTotal exactly, decimals included for export documents.'),
  e('HED-3-305', 'Fecha de emisión anterior a la fecha de autorización', 'FchEmis earlier than the CAF authorization date', 'rejected', true, 'sii-spec §4', false, 'Date the document on or after the CAF FA.'),
  e('DTE-1-650', 'Fecha de emisión fuera de plazo respecto de la recepción', 'FchEmis more than 3 days from SII reception (minor objection)', 'accepted_with_reparos', true, 'sii-spec §5', false, 'Send DTEs within 3 days of FchEmis.'),
  e('CRT-3-18', 'RUT Receptor (Caratula) Invalido', 'Invalid RutReceptor in the carátula', 'rejected', true, 'sii-spec §8', true, 'RutReceptor is 60803000-K in the copy sent to the SII (the buyer\'s RUT only in the buyer\'s copy).'),
  e('CRT-3-19', 'Fecha/Numero Resolucion Invalido', 'Invalid FchResol/NroResol in the carátula', 'rejected', true, 'pitfalls.md (users ask); sii-spec §1, §8', true, 'Use the company\'s own resolution for this environment: NroResol 0 and the test FchResol in certificación.'),
  e('HED-3-861', 'Actividad Económica no registrada', 'Economic activity (Acteco) not registered for the issuer', 'rejected', true, 'pitfalls.md (users ask); sii-spec §3', true, 'Use an Acteco the issuer has registered in the SII.'),
  e('REF-3-750', 'DTE referenciado no recibido', 'Referenced DTE not received (or rejected) by the SII', 'rejected', true, 'sii-spec §3.5', true, 'Reference only documents the SII accepted; send referenced documents first and wait for their acceptance.'),
  e('REF-3-758', 'Falta código de referencia (CodRef) en NC/ND', 'Missing CodRef in a credit/debit note', 'rejected', true, 'sii-spec §3.5', false, 'NC/ND must carry CodRef 1 (anula), 2 (corrige texto) or 3 (corrige montos).'),
  e('REF-3-415', 'Referencia no válida para el tipo de documento', 'Invalid reference (e.g. an NC annulling a guía)', 'rejected', true, 'sii-spec §3.5', false, 'A credit note cannot annul a guía de despacho (no tax debit).'),
  e('ENV-3-0', 'Caracter o dato no permitido en el XML', 'Invalid character or value in the XML (e.g. an emoji)', 'rejected', true, 'sii-spec §6', false, 'Send ISO-8859-1 bytes; replace or refuse characters outside Latin-1.'),
];

function withService(service: SiiCodeService, entries: Entry[]): SiiCodeInfo[] {
  return entries.map((x) => Object.freeze({ ...x, service }));
}

/** Every code the client can meet, grouped by service (frozen data). */
export const SII_CODES: readonly SiiCodeInfo[] = Object.freeze([
  ...withService('auth.seed', AUTH_SEED),
  ...withService('auth.token', AUTH_TOKEN),
  ...withService('upload', UPLOAD),
  ...withService('estado.envio', ESTADO_ENVIO),
  ...withService('estado.dte', ESTADO_DTE),
  ...withService('rcv', RCV),
  ...withService('documento', DOCUMENTO),
]);

const BY_SERVICE = new Map<string, SiiCodeInfo>();
for (const c of SII_CODES) BY_SERVICE.set(`${c.service} ${c.code}`, c);

/**
 * Normalize a code as the SII writes it: trims, upper-cases letters, drops the line marker of
 * per-document codes (`REF L[5]-3-758` → `REF-3-758`) and surrounding parentheses (`(DTE-3-101)`).
 */
export function normalizeSiiCode(code: string): string {
  let c = code.trim().replace(/^\((.*)\)$/, '$1').trim().toUpperCase();
  const doc = /^([A-Z]{3})\s*(?:L\[\d+\]\s*)?-\s*(\d)\s*-\s*(\d+)$/.exec(c);
  if (doc) c = `${doc[1]}-${doc[2]}-${doc[3]}`;
  return c;
}

/**
 * What a code means. With `service` the lookup is exact; without it, the first service that knows the
 * code wins in this order: documento, estado.envio, estado.dte, upload, rcv, auth.token, auth.seed
 * (letters are unambiguous; bare numbers are better looked up with their service).
 *
 * @example
 * ```ts
 * describeCode('RFR')?.meaning;              // 'Rechazado por Error en Firma'
 * describeCode('7', 'upload')?.meaningEn;     // 'Invalid schema'
 * describeCode('REF L[5]-3-758')?.code;       // 'REF-3-758'
 * ```
 */
export function describeCode(code: string, service?: SiiCodeService): SiiCodeInfo | undefined {
  const c = normalizeSiiCode(code);
  if (service) return BY_SERVICE.get(`${service} ${c}`);
  for (const s of ['documento', 'estado.envio', 'estado.dte', 'upload', 'rcv', 'auth.token', 'auth.seed'] as const) {
    const hit = BY_SERVICE.get(`${s} ${c}`);
    if (hit) return hit;
  }
  return undefined;
}

/** Every entry with this code, whatever the service. */
export const findCodes = (code: string): SiiCodeInfo[] => {
  const c = normalizeSiiCode(code);
  return SII_CODES.filter((x) => x.code === c);
};

/**
 * Severity of a per-document code by its level digit (`XXX-n-nnn`: 3 rechazo, 1 or 2 reparo), for
 * codes the catalogue does not list; undefined when the code does not have that shape.
 */
export function documentCodeSeverity(code: string): 'rechazo' | 'reparo' | undefined {
  const m = /^[A-Z]{3}-(\d)-\d+$/.exec(normalizeSiiCode(code));
  if (!m) return undefined;
  return m[1] === '3' ? 'rechazo' : m[1] === '1' || m[1] === '2' ? 'reparo' : undefined;
}

/** The catalogue as JSON text (for other languages, docs, the simulator). */
export function siiCodesToJson(space: number = 2): string {
  return JSON.stringify({ version: 1, source: 'shared/docs/sii-spec.md', codes: SII_CODES }, null, space);
}
