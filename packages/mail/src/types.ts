export interface ImapSettings {
  host: string;
  port: number;
  /** implicit TLS (993); false = plain connection, upgraded with STARTTLS when the server offers it */
  secure: boolean;
  user: string;
  password: string;
  /** default INBOX */
  mailbox?: string;
  /** default true */
  rejectUnauthorized?: boolean;
  /** connect/greeting timeout in ms (default 30 000); an idle socket times out after max(this, 60 000) */
  timeoutMs?: number;
}

export interface SmtpSettings {
  host: string;
  port: number;
  /** implicit TLS (465); false = plain, upgraded with STARTTLS when offered */
  secure: boolean;
  user?: string;
  password?: string;
  from: string;
  rejectUnauthorized?: boolean;
  /** connect/greeting timeout in ms (default 30 000) */
  timeoutMs?: number;
}

export interface InboundAttachment {
  /** the attachment's name; for a file inside a zip: `archive.zip/path/inside.xml` */
  filename: string;
  /** content type as declared by the sender (`application/xml` for zip entries) */
  contentType: string;
  /** XML bytes as received (transfer encoding removed, charset untouched) */
  content: Buffer;
}

export interface InboundMessage {
  uid: number;
  uidValidity: number;
  messageId?: string;
  from?: string;
  subject?: string;
  date?: Date;
  /** .xml files and XML inside .zip, in order */
  attachments: InboundAttachment[];
  /** too large, not XML, broken zip, zip bomb… (filename '' for whole-message reasons) */
  skipped: Array<{ filename: string; reason: string }>;
}

export interface ReadInboxOptions {
  /** per run, default 100 */
  maxMessages?: number;
  /** per attachment (decoded) and per zip entry, default 10 MB */
  maxAttachmentBytes?: number;
  /** entries per zip, default 100 */
  maxZipEntries?: number;
  /** uncompressed bytes per zip archive, default 50 MB */
  maxUncompressedBytes?: number;
}

export interface OutboundMail {
  to: string;
  subject: string;
  text: string;
  attachments: Array<{ filename: string; content: Buffer; contentType: string }>;
  messageId?: string;
}
