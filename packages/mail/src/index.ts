export { MailError } from './errors.js';
export type { MailErrorCode } from './errors.js';
export type { ImapSettings, SmtpSettings, InboundAttachment, InboundMessage, ReadInboxOptions, OutboundMail } from './types.js';
export { readInbox, markProcessed, PROCESSED_KEYWORD } from './imap.js';
export { sendMail } from './smtp.js';
export { composeMail } from './compose.js';
export type { ComposeInput } from './compose.js';
