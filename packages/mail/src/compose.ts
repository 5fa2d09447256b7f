import MailComposer from 'nodemailer/lib/mail-composer';

export interface ComposeInput {
  from: string;
  to: string;
  subject: string;
  text?: string;
  attachments: Array<{
    filename: string;
    content: Buffer;
    contentType?: string;
    /** default: nodemailer's choice (base64 for binary types) */
    contentTransferEncoding?: 'base64' | 'quoted-printable' | '7bit' | '8bit';
  }>;
  messageId?: string;
  date?: Date;
}

/** Build a raw RFC 822 e-mail with attachments (nodemailer's MailComposer), for tests and tools. */
export function composeMail(m: ComposeInput): Promise<Buffer> {
  const composer = new MailComposer({
    from: m.from,
    to: m.to,
    subject: m.subject,
    ...(m.text !== undefined ? { text: m.text } : {}),
    ...(m.messageId ? { messageId: m.messageId } : {}),
    ...(m.date ? { date: m.date } : {}),
    attachments: m.attachments.map((a) => ({
      filename: a.filename,
      content: a.content,
      ...(a.contentType ? { contentType: a.contentType } : {}),
      ...(a.contentTransferEncoding ? { contentTransferEncoding: a.contentTransferEncoding } : {}),
    })),
  });
  return new Promise((resolve, reject) => {
    composer.compile().build((err, message) => (err ? reject(err) : resolve(message)));
  });
}
