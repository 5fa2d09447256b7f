import { ImapFlow } from 'imapflow';
import type { FetchMessageObject, MessageStructureObject } from 'imapflow';
import { MailError, toMailError } from './errors.js';
import { decodeTransfer, decodedSizeEstimate, looksLikeXml, looksLikeZip } from './mime.js';
import type { ImapSettings, InboundAttachment, InboundMessage, ReadInboxOptions } from './types.js';
import { ZipError, readZip } from './zip.js';

/** The keyword that marks a message as stored by Timbre. */
export const PROCESSED_KEYWORD = '$TimbreProcessed';

const MB = 1024 * 1024;
const DEFAULTS = { maxMessages: 100, maxAttachmentBytes: 10 * MB, maxZipEntries: 100, maxUncompressedBytes: 50 * MB };
const MAX_DEPTH = 12;

function where(s: ImapSettings): string {
  return `IMAP ${s.host}:${s.port}`;
}

function newClient(s: ImapSettings): ImapFlow {
  const timeout = s.timeoutMs ?? 30_000;
  const client = new ImapFlow({
    host: s.host,
    port: s.port,
    secure: s.secure,
    auth: { user: s.user, pass: s.password },
    tls: { rejectUnauthorized: s.rejectUnauthorized ?? true },
    logger: false,
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: Math.max(timeout, 60_000),
    // always BODY.PEEK[part]: raw transfer-encoded bytes, decoded here the same way for every server
    disableBinary: true,
    disableCompression: true,
  });
  // imapflow emits 'error' on socket failures; without a listener node would crash the process.
  client.on('error', () => {});
  return client;
}

async function connect(s: ImapSettings): Promise<ImapFlow> {
  if (!s.host || !Number.isInteger(s.port) || s.port <= 0) throw new TypeError('ImapSettings: host and port are required');
  const client = newClient(s);
  try {
    await client.connect();
  } catch (err) {
    client.close();
    throw toMailError(err, where(s));
  }
  return client;
}

async function closeQuietly(client: ImapFlow): Promise<void> {
  try {
    if (client.usable) await client.logout();
  } catch {
    /* already gone */
  } finally {
    client.close();
  }
}

function positiveInt(v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v <= 0) throw new RangeError(`ReadInboxOptions.${name} must be a positive integer`);
  return v;
}

/**
 * Unprocessed messages of the mailbox (those without the keyword `$TimbreProcessed`), oldest first
 * (ascending UID). Never marks anything: the mailbox is opened read-only (EXAMINE) and parts are
 * fetched with BODY.PEEK. One bad message never stops the run: what could not be read is in
 * `skipped`. Connection-level failures throw MailError.
 */
export async function* readInbox(s: ImapSettings, opts: ReadInboxOptions = {}): AsyncGenerator<InboundMessage> {
  const limits = {
    maxMessages: positiveInt(opts.maxMessages, DEFAULTS.maxMessages, 'maxMessages'),
    maxAttachmentBytes: positiveInt(opts.maxAttachmentBytes, DEFAULTS.maxAttachmentBytes, 'maxAttachmentBytes'),
    maxZipEntries: positiveInt(opts.maxZipEntries, DEFAULTS.maxZipEntries, 'maxZipEntries'),
    maxUncompressedBytes: positiveInt(opts.maxUncompressedBytes, DEFAULTS.maxUncompressedBytes, 'maxUncompressedBytes'),
  };
  const mailbox = s.mailbox ?? 'INBOX';
  const client = await connect(s);
  try {
    let uidValidity: number;
    let uids: number[];
    try {
      const mb = await client.mailboxOpen(mailbox, { readOnly: true });
      uidValidity = Number(mb.uidValidity);
      const found = await client.search({ unKeyword: PROCESSED_KEYWORD, deleted: false }, { uid: true });
      uids = (found || []).slice().sort((a, b) => a - b).slice(0, limits.maxMessages);
    } catch (err) {
      throw toMailError(err, `${where(s)} mailbox ${JSON.stringify(mailbox)}`);
    }
    for (const uid of uids) {
      let msg: FetchMessageObject | false;
      try {
        msg = await client.fetchOne(String(uid), { uid: true, envelope: true, bodyStructure: true, internalDate: true }, { uid: true });
      } catch (err) {
        if (!client.usable) throw toMailError(err, where(s));
        yield { uid, uidValidity, attachments: [], skipped: [{ filename: '', reason: `unreadable message: ${(err as Error).message}` }] };
        continue;
      }
      if (!msg) continue; // expunged meanwhile
      yield await buildMessage(client, s, msg, uid, uidValidity, limits);
    }
  } finally {
    await closeQuietly(client);
  }
}

interface Leaf { node: MessageStructureObject; part: string }

function collectLeaves(node: MessageStructureObject, part: string, depth: number, out: Leaf[], problems: string[]): void {
  if (depth > MAX_DEPTH) { problems.push('MIME structure nested too deep'); return; }
  if (node.childNodes && node.type.startsWith('multipart/')) {
    for (const child of node.childNodes) collectLeaves(child, child.part ?? part, depth + 1, out, problems);
    return;
  }
  if (node.type === 'message/rfc822' && node.childNodes && node.childNodes[0]) {
    // an attached (forwarded) e-mail: look inside. imapflow gives the inner root the wrapper's
    // number; a non-multipart inner body is section `<part>.1` (RFC 3501 §6.4.5).
    const inner = node.childNodes[0];
    if (inner.type.startsWith('multipart/')) collectLeaves(inner, part, depth + 1, out, problems);
    else out.push({ node: inner, part: part ? `${part}.1` : '1' });
    return;
  }
  out.push({ node, part: part || '1' });
}

function filenameOf(node: MessageStructureObject): string {
  return (node.dispositionParameters?.filename ?? node.parameters?.name ?? '').trim();
}

function isBodyText(node: MessageStructureObject, filename: string): boolean {
  return (node.type === 'text/plain' || node.type === 'text/html') && !filename && node.disposition !== 'attachment';
}

async function fetchPart(client: ImapFlow, uid: number, part: string): Promise<Buffer | undefined> {
  const m = await client.fetchOne(String(uid), { uid: true, bodyParts: [part] }, { uid: true });
  if (!m || !m.bodyParts) return undefined;
  return m.bodyParts.get(part) ?? m.bodyParts.get(part.toUpperCase()) ?? m.bodyParts.values().next().value;
}

async function buildMessage(
  client: ImapFlow, s: ImapSettings, msg: FetchMessageObject, uid: number, uidValidity: number, limits: typeof DEFAULTS,
): Promise<InboundMessage> {
  const env = msg.envelope;
  const date = env?.date instanceof Date && !Number.isNaN(env.date.getTime()) ? env.date
    : msg.internalDate instanceof Date ? msg.internalDate : undefined;
  const out: InboundMessage = {
    uid,
    uidValidity,
    ...(env?.messageId ? { messageId: env.messageId } : {}),
    ...(env?.from?.[0]?.address ? { from: env.from[0].address } : {}),
    ...(env?.subject !== undefined ? { subject: env.subject } : {}),
    ...(date ? { date } : {}),
    attachments: [],
    skipped: [],
  };
  const skip = (filename: string, reason: string): void => { out.skipped.push({ filename, reason }); };
  try {
    if (!msg.bodyStructure) { skip('', 'message has no MIME structure'); return out; }
    const leaves: Leaf[] = [];
    const problems: string[] = [];
    collectLeaves(msg.bodyStructure, msg.bodyStructure.part ?? '', 0, leaves, problems);
    for (const p of problems) skip('', p);
    let candidates = 0;
    for (const { node, part } of leaves) {
      const name = filenameOf(node);
      if (isBodyText(node, name)) continue;
      candidates++;
      const label = name || `(part ${part}, ${node.type})`;
      try {
        await handlePart(client, uid, node, part, label, limits, out, skip);
      } catch (err) {
        if (!client.usable) throw err;
        skip(label, `unreadable part: ${(err as Error).message}`);
      }
    }
    if (candidates === 0) skip('', 'message has no attachments');
  } catch (err) {
    if (!client.usable) throw toMailError(err, where(s));
    skip('', `unreadable message: ${(err as Error).message}`);
  }
  return out;
}

async function handlePart(
  client: ImapFlow, uid: number, node: MessageStructureObject, part: string, label: string,
  limits: typeof DEFAULTS, out: InboundMessage, skip: (f: string, r: string) => void,
): Promise<void> {
  const isZip = looksLikeZip(label, node.type);
  const limit = isZip ? limits.maxUncompressedBytes : limits.maxAttachmentBytes;
  const estimate = decodedSizeEstimate(node.size ?? 0, node.encoding);
  // base64 estimates are exact to within line breaks; allow a little slack, the decoded size is checked again below
  if (estimate > limit + 4096) { skip(label, `too large: about ${estimate} bytes (limit ${limit})`); return; }
  const enc = (node.encoding ?? '7bit').toLowerCase();
  if (!['base64', 'quoted-printable', '7bit', '8bit', 'binary', ''].includes(enc)) {
    skip(label, `unsupported transfer encoding ${enc}`);
    return;
  }
  const raw = await fetchPart(client, uid, part);
  if (!raw) { skip(label, 'part could not be fetched'); return; }
  const content = decodeTransfer(raw, enc)!;
  if (content.length > limit) { skip(label, `too large: ${content.length} bytes (limit ${limit})`); return; }
  if (isZip || looksLikeZip('', '', content)) {
    let entries;
    try {
      entries = readZip(content, {
        maxEntries: limits.maxZipEntries, maxEntryBytes: limits.maxAttachmentBytes, maxTotalBytes: limits.maxUncompressedBytes,
      });
    } catch (err) {
      skip(label, err instanceof ZipError ? err.message : `broken zip (${(err as Error).message})`);
      return;
    }
    for (const e of entries) {
      const entryLabel = `${label}/${e.name}`;
      if (!e.content) { skip(entryLabel, e.error ?? 'unreadable zip entry'); continue; }
      if (looksLikeZip(e.name, '', e.content)) { skip(entryLabel, 'nested archive not opened'); continue; }
      if (!looksLikeXml(e.content)) { skip(entryLabel, 'not XML'); continue; }
      out.attachments.push({ filename: entryLabel, contentType: 'application/xml', content: e.content });
    }
    if (entries.length === 0) skip(label, 'empty zip archive (no files)');
    return;
  }
  if (!looksLikeXml(content)) {
    skip(label, `not XML (${node.type}${/\.xml$/i.test(label) ? ', although named .xml' : ''})`);
    return;
  }
  const attachment: InboundAttachment = { filename: label, contentType: node.type, content };
  out.attachments.push(attachment);
}

/**
 * Mark messages processed: keyword `$TimbreProcessed` and `\Seen`. Call it only after their content
 * is stored. Throws MailError ERR_MAIL_PROTOCOL, marking nothing, when the mailbox's UIDVALIDITY is no
 * longer `uidValidity` (the mailbox was recreated: the UIDs now name other messages — read again).
 */
export async function markProcessed(s: ImapSettings, uidValidity: number, uids: number[]): Promise<void> {
  for (const u of uids) {
    if (!Number.isInteger(u) || u <= 0) throw new RangeError(`markProcessed: invalid UID ${String(u)}`);
  }
  if (uids.length === 0) return;
  const mailbox = s.mailbox ?? 'INBOX';
  const client = await connect(s);
  try {
    const mb = await client.mailboxOpen(mailbox, { readOnly: false });
    const current = Number(mb.uidValidity);
    if (current !== uidValidity) {
      throw new MailError('ERR_MAIL_PROTOCOL',
        `${where(s)}: UIDVALIDITY of ${JSON.stringify(mailbox)} is ${current}, not ${uidValidity}: the mailbox was recreated; nothing was marked — read it again`);
    }
    if (mb.readOnly) throw new MailError('ERR_MAIL_PROTOCOL', `${where(s)}: mailbox ${JSON.stringify(mailbox)} is read-only`);
    const pf = mb.permanentFlags;
    if (pf && pf.size > 0 && !pf.has('\\*') && !pf.has(PROCESSED_KEYWORD)) {
      throw new MailError('ERR_MAIL_PROTOCOL', `${where(s)}: the server does not store the keyword ${PROCESSED_KEYWORD} in ${JSON.stringify(mailbox)}`);
    }
    const sorted = [...new Set(uids)].sort((a, b) => a - b);
    for (let i = 0; i < sorted.length; i += 500) {
      const ok = await client.messageFlagsAdd(sorted.slice(i, i + 500).join(','), [PROCESSED_KEYWORD, '\\Seen'], { uid: true });
      if (!ok) throw new MailError('ERR_MAIL_PROTOCOL', `${where(s)}: the server refused to set ${PROCESSED_KEYWORD}`);
    }
  } catch (err) {
    throw toMailError(err, `${where(s)} mailbox ${JSON.stringify(mailbox)}`);
  } finally {
    await closeQuietly(client);
  }
}
