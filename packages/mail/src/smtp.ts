import nodemailer from 'nodemailer';
import { toMailError } from './errors.js';
import type { OutboundMail, SmtpSettings } from './types.js';

function addresses(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.map((a: unknown) => (typeof a === 'string' ? a : (a as { address?: string }).address ?? String(a)));
}

/**
 * Send one message (e.g. a RespuestaDTE / EnvioRecibos back to the issuer). Attachments always go
 * base64, so their bytes arrive exactly as given. Throws MailError: ERR_MAIL_AUTH, ERR_MAIL_UNAVAILABLE
 * (network, TLS, timeout, 4xx: retry later), ERR_MAIL_PROTOCOL (5xx, recipient refused).
 */
export async function sendMail(s: SmtpSettings, m: OutboundMail): Promise<{ messageId: string; accepted: string[] }> {
  if (!s.host || !Number.isInteger(s.port) || s.port <= 0) throw new TypeError('SmtpSettings: host and port are required');
  const timeout = s.timeoutMs ?? 30_000;
  const transport = nodemailer.createTransport({
    host: s.host,
    port: s.port,
    secure: s.secure,
    ...(s.user !== undefined ? { auth: { user: s.user, pass: s.password ?? '' } } : {}),
    tls: { rejectUnauthorized: s.rejectUnauthorized ?? true },
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: Math.max(timeout, 60_000),
    logger: false,
  });
  try {
    const info = await transport.sendMail({
      from: s.from,
      to: m.to,
      subject: m.subject,
      text: m.text,
      ...(m.messageId ? { messageId: m.messageId } : {}),
      attachments: m.attachments.map((a) => ({
        filename: a.filename, content: a.content, contentType: a.contentType, contentTransferEncoding: 'base64' as const,
      })),
    });
    const accepted = addresses(info.accepted);
    return { messageId: String(info.messageId), accepted };
  } catch (err) {
    throw toMailError(err, `SMTP ${s.host}:${s.port}`);
  } finally {
    transport.close();
  }
}
