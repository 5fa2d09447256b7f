/**
 * One error type for every failure of the mail boundary.
 * - `ERR_MAIL_AUTH`: the server refused the credentials (fix the settings; retrying will not help).
 * - `ERR_MAIL_UNAVAILABLE`: network, DNS, TLS, timeout, connection lost, SMTP 4xx — retry later.
 * - `ERR_MAIL_PROTOCOL`: the server answered something unexpected (no such mailbox, UIDVALIDITY
 *   changed, keywords not supported, SMTP 5xx, recipient rejected…).
 * Messages never contain the password.
 */
export type MailErrorCode = 'ERR_MAIL_AUTH' | 'ERR_MAIL_UNAVAILABLE' | 'ERR_MAIL_PROTOCOL';

export class MailError extends Error {
  override readonly name = 'MailError';
  readonly code: MailErrorCode;
  constructor(code: MailErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

const UNAVAILABLE_CODES = new Set([
  // Node socket / DNS
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT',
  'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENETDOWN', 'EHOSTDOWN',
  // imapflow
  'NoConnection', 'EConnectionClosed', 'ClosedAfterConnectText', 'ClosedAfterConnectTLS',
  'CONNECT_TIMEOUT', 'GREETING_TIMEOUT', 'UPGRADE_TIMEOUT', 'ETIMEOUT', 'ETHROTTLE', 'StateLogout',
  // nodemailer
  'ECONNECTION', 'ESOCKET', 'EDNS', 'ETLS', 'EPROXY',
]);

function isTlsCode(code: string): boolean {
  return code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code.startsWith('CERT_') ||
    code.includes('SELF_SIGNED') || code.includes('UNABLE_TO_') || code.endsWith('_CERT') ||
    code === 'HOSTNAME_MISMATCH' || code === 'ERR_OSSL_PEM_NO_START_LINE';
}

interface LibError {
  message?: unknown; code?: unknown; authenticationFailed?: unknown; serverResponseCode?: unknown;
  responseText?: unknown; responseCode?: unknown; response?: unknown; command?: unknown;
}

/** Normalise an error thrown by imapflow / nodemailer / node into a MailError. */
export function toMailError(err: unknown, where: string): MailError {
  if (err instanceof MailError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as LibError;
  const code = typeof e.code === 'string' ? e.code : '';
  const serverCode = typeof e.serverResponseCode === 'string' ? e.serverResponseCode.toUpperCase() : '';
  const responseCode = typeof e.responseCode === 'number' ? e.responseCode : 0;
  const message = typeof e.message === 'string' ? e.message : String(err);
  // imapflow: message 'Command failed' + responseText (the server's words); nodemailer: message already holds the response
  const serverText = typeof e.responseText === 'string' && e.responseText ? e.responseText
    : typeof e.response === 'string' && e.response ? e.response : '';
  const parts: string[] = [message];
  if (serverText && !message.includes(serverText)) parts.push(serverText);
  if (code) parts.push(`(${code})`);
  const detail = parts.join(' ');
  let kind: MailErrorCode;
  if (e.authenticationFailed === true || serverCode === 'AUTHENTICATIONFAILED' || serverCode === 'AUTHORIZATIONFAILED' ||
      code === 'EAUTH' || responseCode === 535 || responseCode === 534) {
    kind = 'ERR_MAIL_AUTH';
  } else if (UNAVAILABLE_CODES.has(code) || isTlsCode(code) || serverCode === 'UNAVAILABLE' ||
             (responseCode >= 400 && responseCode < 500)) {
    kind = 'ERR_MAIL_UNAVAILABLE';
  } else {
    kind = 'ERR_MAIL_PROTOCOL';
  }
  const prefix = kind === 'ERR_MAIL_AUTH' ? 'authentication failed' : kind === 'ERR_MAIL_UNAVAILABLE' ? 'server unavailable' : 'protocol error';
  return new MailError(kind, `${where}: ${prefix}: ${detail}`, { cause: err });
}
