import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { ImapFlow } from 'imapflow';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MailError, markProcessed, readInbox, sendMail } from '../src/index.js';
import type { ImapSettings, InboundMessage, ReadInboxOptions } from '../src/index.js';
import { decodeQuotedPrintable, looksLikeXml } from '../src/mime.js';
import { composeMail, freePort, makeZip, startTestImap, startTestSmtp } from '../src/testing.js';
import type { TestImapServer, TestSmtpServer } from '../src/testing.js';

// ---------- fixtures ----------
const latin1Xml = Buffer.from(
  '<?xml version="1.0" encoding="ISO-8859-1"?>\n<EnvioDTE><RznSoc>Compañía Ñandú Ltda.</RznSoc><Glosa>año</Glosa></EnvioDTE>\n',
  'latin1',
);
// windows-1252 declared: curly quotes (0x93 0x94), euro (0x80), ñ (0xF1); CRLF endings (travels quoted-printable)
const cp1252Xml = Buffer.concat([
  Buffer.from('<?xml version="1.0" encoding="windows-1252"?>\r\n<EnvioDTE><Glosa>', 'latin1'),
  Buffer.from([0x93, 0x41, 0x94, 0x20, 0x80, 0x20, 0xf1]),
  Buffer.from('</Glosa></EnvioDTE>\r\n', 'latin1'),
]);
const xmlA = Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?>\n<DTE n="a">\xf1</DTE>\n', 'latin1');
const xmlB = Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?>\n<DTE n="b">\xd1</DTE>\n', 'latin1');
const pdf = Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n', 'latin1');
const MB = 1024 * 1024;

const b64 = (b: Buffer): string => b.toString('base64').replace(/.{76}/g, '$&\r\n');
const nestedRaw = [
  'From: Proveedor <facturas@proveedor.cl>',
  'To: dte@empresa.cl',
  'Subject: =?UTF-8?Q?Env=C3=ADo_DTE_anidado?=',
  'Date: Tue, 01 Dec 2026 10:00:00 -0300',
  'Message-ID: <nested-1@proveedor.cl>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="OUTER"',
  '',
  '--OUTER',
  'Content-Type: multipart/alternative; boundary="ALT"',
  '',
  '--ALT',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Adjunto DTE',
  '--ALT',
  'Content-Type: text/html; charset=utf-8',
  '',
  '<p>Adjunto DTE</p>',
  '--ALT--',
  '--OUTER',
  'Content-Type: application/octet-stream; name="envio"',
  'Content-Transfer-Encoding: base64',
  '',
  b64(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('  \r\n<?xml version="1.0" encoding="UTF-8"?><EnvioDTE>ñ</EnvioDTE>', 'utf8')])),
  '--OUTER',
  'Content-Type: message/rfc822',
  '',
  'From: otro@x.cl',
  'Subject: fwd',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="INNER"',
  '',
  '--INNER',
  'Content-Type: text/plain',
  '',
  'see attached',
  '--INNER',
  'Content-Type: application/xml; name="fwd.xml"',
  'Content-Disposition: attachment; filename="fwd.xml"',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  '<?xml version=3D"1.0" encoding=3D"ISO-8859-1"?>=0D=0A<a>=F1 con una l=C3=ADnea que se corta =',
  'aqu=ED</a>',
  '--INNER--',
  '--OUTER',
  'Content-Type: message/rfc822',
  '',
  'From: x@y.cl',
  'Subject: single',
  'MIME-Version: 1.0',
  'Content-Type: application/xml; name="single.xml"',
  'Content-Transfer-Encoding: base64',
  '',
  b64(xmlB),
  '--OUTER',
  'Content-Type: text/plain; name="notes.txt"',
  'Content-Disposition: attachment; filename="notes.txt"',
  '',
  'just notes',
  '--OUTER',
  'Content-Type: application/xml; name="uu.xml"',
  'Content-Transfer-Encoding: x-uuencode',
  '',
  'begin 644 uu.xml',
  '`',
  'end',
  '--OUTER--',
  '',
].join('\r\n');

const FROM = 'Proveedor SpA <facturas@proveedor.cl>';
const TO = 'dte@empresa.cl';

async function collect(s: ImapSettings, opts?: ReadInboxOptions): Promise<InboundMessage[]> {
  const out: InboundMessage[] = [];
  for await (const m of readInbox(s, opts)) out.push(m);
  return out;
}

async function rejection(p: Promise<unknown>): Promise<MailError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(MailError);
    return err as MailError;
  }
  throw new Error('expected a rejection');
}

// ---------- units ----------
describe('mime helpers', () => {
  it('decodes quoted-printable byte-exactly (soft breaks, =XX, CRLF)', () => {
    expect(decodeQuotedPrintable(Buffer.from('a=F1b=\r\nc=3D\r\nd  \r\n')).toString('latin1')).toBe('a\xf1bc=\r\nd\r\n');
  });
  it('sniffs XML by content: BOMs, blanks, not HTML, not PDF', () => {
    expect(looksLikeXml(Buffer.from('\ufeff \n<?xml version="1.0"?><a/>'))).toBe(true);
    expect(looksLikeXml(Buffer.from('\ufeff<a/>', 'utf16le'))).toBe(true);
    expect(looksLikeXml(Buffer.from('<EnvioDTE/>'))).toBe(true);
    expect(looksLikeXml(Buffer.from('<!DOCTYPE html><html></html>'))).toBe(false);
    expect(looksLikeXml(Buffer.from('<html><body/></html>'))).toBe(false);
    expect(looksLikeXml(pdf)).toBe(false);
    expect(looksLikeXml(Buffer.alloc(0))).toBe(false);
  });
});

// ---------- IMAP against a real Dovecot ----------
describe('readInbox / markProcessed against Dovecot', () => {
  let imap: TestImapServer;
  let first: InboundMessage[];

  beforeAll(async () => {
    imap = await startTestImap();
    const zipTwo = makeZip([
      { name: 'dtes/EnvioDTE_A.xml', data: xmlA },
      { name: 'EnvioDTE_B.xml', data: xmlB, deflate: false },
      { name: '../../etc/evil.xml', data: xmlA },
      { name: 'LEEME.txt', data: Buffer.from('hola') },
      { name: 'dtes/', data: Buffer.alloc(0), deflate: false },
    ]);
    const zeros = Buffer.alloc(60 * MB);
    const honestBomb = makeZip([{ name: 'bomb.xml', data: zeros }]);
    const lyingBomb = makeZip([{ name: 'small.xml', data: zeros, declaredSize: 1000 }]);
    const manyEntries = makeZip(Array.from({ length: 101 }, (_, i) => ({ name: `f${i}.xml`, data: Buffer.from('<a/>') })));
    const huge = Buffer.concat([Buffer.from('<?xml version="1.0"?><x>'), Buffer.alloc(11 * MB, 0x61), Buffer.from('</x>')]);
    const messages: Array<Buffer | string> = [
      await composeMail({ from: FROM, to: TO, subject: 'm1 latin1', text: 'DTE adjunto', attachments: [
        { filename: 'EnvioDTE_latin1.xml', content: latin1Xml, contentType: 'application/xml' }] }),
      await composeMail({ from: FROM, to: TO, subject: 'm2 windows-1252 QP octet-stream', attachments: [
        { filename: 'EnvioDTE_1252.XML', content: cp1252Xml, contentType: 'application/octet-stream', contentTransferEncoding: 'quoted-printable' }] }),
      await composeMail({ from: FROM, to: TO, subject: 'm3 zip', attachments: [
        { filename: 'dtes.zip', content: zipTwo, contentType: 'application/zip' }] }),
      await composeMail({ from: FROM, to: TO, subject: 'm4 huge', attachments: [
        { filename: 'huge.xml', content: huge, contentType: 'application/xml' },
        { filename: 'small.xml', content: xmlA, contentType: 'text/xml' }] }),
      await composeMail({ from: FROM, to: TO, subject: 'm5 bombs', attachments: [
        { filename: 'bomb.zip', content: honestBomb, contentType: 'application/zip' },
        { filename: 'liar.zip', content: lyingBomb, contentType: 'application/octet-stream' },
        { filename: 'many.zip', content: manyEntries, contentType: 'application/zip' }] }),
      await composeMail({ from: FROM, to: TO, subject: 'm6 not xml', attachments: [
        { filename: 'factura.pdf', content: pdf, contentType: 'application/pdf' },
        { filename: 'fake.xml', content: pdf, contentType: 'application/xml' },
        { filename: 'broken.zip', content: Buffer.from('PK\x03\x04 this is not really a zip'), contentType: 'application/zip' }] }),
      await composeMail({ from: FROM, to: TO, subject: 'm7 no attachments', text: 'solo texto', attachments: [] }),
      nestedRaw,
      'From: someone@x.cl\r\nTo: dte@empresa.cl\r\nSubject: m9 plain\r\n\r\nno MIME at all\r\n',
    ];
    for (const m of messages) await imap.append(m);
    first = await collect(imap.settings());
  });

  afterAll(async () => {
    await imap?.stop();
  });

  it('yields every message oldest first with envelope data', () => {
    expect(first.map((m) => m.uid)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(first.map((m) => m.subject)).toEqual([
      'm1 latin1', 'm2 windows-1252 QP octet-stream', 'm3 zip', 'm4 huge', 'm5 bombs', 'm6 not xml', 'm7 no attachments',
      'Envío DTE anidado', 'm9 plain',
    ]);
    expect(new Set(first.map((m) => m.uidValidity)).size).toBe(1);
    expect(first[0]!.uidValidity).toBeGreaterThan(0);
    expect(first[0]!.from).toBe('facturas@proveedor.cl');
    expect(first[0]!.messageId).toMatch(/^<.+@.+>$/);
    expect(first[0]!.date).toBeInstanceOf(Date);
    expect(first[7]!.messageId).toBe('<nested-1@proveedor.cl>');
    expect(first[7]!.date?.toISOString()).toBe('2026-12-01T13:00:00.000Z');
  });

  it('keeps ISO-8859-1 bytes exact (base64)', () => {
    const m = first[0]!;
    expect(m.skipped).toEqual([]);
    expect(m.attachments).toHaveLength(1);
    expect(m.attachments[0]!.filename).toBe('EnvioDTE_latin1.xml');
    expect(m.attachments[0]!.contentType).toBe('application/xml');
    expect(m.attachments[0]!.content.equals(latin1Xml)).toBe(true);
    expect(m.attachments[0]!.content.includes(0xf1)).toBe(true);
  });

  it('keeps windows-1252 bytes exact through quoted-printable, octet-stream detected as XML', () => {
    const m = first[1]!;
    expect(m.skipped).toEqual([]);
    expect(m.attachments.map((a) => [a.filename, a.contentType])).toEqual([['EnvioDTE_1252.XML', 'application/octet-stream']]);
    expect(m.attachments[0]!.content.equals(cp1252Xml)).toBe(true);
  });

  it('extracts the XMLs of a zip in order and reports traversal names and non-XML entries', () => {
    const m = first[2]!;
    expect(m.attachments.map((a) => a.filename)).toEqual(['dtes.zip/dtes/EnvioDTE_A.xml', 'dtes.zip/EnvioDTE_B.xml']);
    expect(m.attachments[0]!.content.equals(xmlA)).toBe(true);
    expect(m.attachments[1]!.content.equals(xmlB)).toBe(true);
    expect(m.skipped.map((s) => s.filename)).toEqual(['dtes.zip/../../etc/evil.xml', 'dtes.zip/LEEME.txt']);
    expect(m.skipped[0]!.reason).toMatch(/path traversal/);
    expect(m.skipped[1]!.reason).toMatch(/not XML/);
  });

  it('skips an attachment over the size limit and keeps the rest of the message', () => {
    const m = first[3]!;
    expect(m.skipped).toHaveLength(1);
    expect(m.skipped[0]!.filename).toBe('huge.xml');
    expect(m.skipped[0]!.reason).toMatch(/too large/);
    expect(m.attachments.map((a) => [a.filename, a.contentType])).toEqual([['small.xml', 'text/xml']]);
    expect(m.attachments[0]!.content.equals(xmlA)).toBe(true);
  });

  it('skips zip bombs: declared size, lying header, too many entries', () => {
    const m = first[4]!;
    expect(m.attachments).toEqual([]);
    const byName = Object.fromEntries(m.skipped.map((s) => [s.filename, s.reason]));
    expect(Object.keys(byName)).toEqual(['bomb.zip', 'liar.zip/small.xml', 'many.zip']);
    expect(byName['bomb.zip']).toMatch(/zip bomb: declares/);
    expect(byName['liar.zip/small.xml']).toMatch(/zip bomb: inflates beyond/);
    expect(byName['many.zip']).toMatch(/too many entries: 101/);
  });

  it('skips non-XML attachments (PDF, a PDF named .xml, a broken zip)', () => {
    const m = first[5]!;
    expect(m.attachments).toEqual([]);
    expect(m.skipped.map((s) => s.filename)).toEqual(['factura.pdf', 'fake.xml', 'broken.zip']);
    expect(m.skipped[0]!.reason).toMatch(/not XML \(application\/pdf\)/);
    expect(m.skipped[1]!.reason).toMatch(/although named \.xml/);
    expect(m.skipped[2]!.reason).toMatch(/not a zip archive/);
  });

  it('reports a message without attachments', () => {
    for (const m of [first[6]!, first[8]!]) {
      expect(m.attachments).toEqual([]);
      expect(m.skipped).toEqual([{ filename: '', reason: 'message has no attachments' }]);
    }
  });

  it('walks nested multiparts and attached e-mails, sniffs unnamed XML, reports odd encodings', () => {
    const m = first[7]!;
    expect(m.attachments.map((a) => a.filename)).toEqual(['envio', 'fwd.xml', 'single.xml']);
    expect(m.attachments[0]!.content.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf]))).toBe(true);
    expect(m.attachments[0]!.content.toString('utf8')).toContain('<EnvioDTE>ñ</EnvioDTE>');
    expect(m.attachments[1]!.content.equals(Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?>\r\n<a>\xf1 con una l\xc3\xadnea que se corta aqu\xed</a>', 'latin1'))).toBe(true);
    expect(m.attachments[2]!.content.equals(xmlB)).toBe(true);
    expect(m.skipped).toEqual([
      { filename: 'notes.txt', reason: 'not XML (text/plain)' },
      { filename: 'uu.xml', reason: 'unsupported transfer encoding x-uuencode' },
    ]);
  });

  it('never marks anything: a second read yields the same messages, none \\Seen', async () => {
    const again = await collect(imap.settings());
    expect(again.map((m) => m.uid)).toEqual(first.map((m) => m.uid));
    expect(again[2]!.attachments.map((a) => a.content.toString('latin1'))).toEqual(first[2]!.attachments.map((a) => a.content.toString('latin1')));
    const client = new ImapFlow({ ...{ host: imap.host, port: imap.port, secure: false }, auth: { user: imap.user, pass: imap.password }, logger: false });
    await client.connect();
    await client.mailboxOpen('INBOX', { readOnly: true });
    for await (const msg of client.fetch('1:*', { uid: true, flags: true }, { uid: true })) {
      expect([...(msg.flags ?? [])]).not.toContain('\\Seen');
    }
    await client.logout();
  });

  it('maxMessages limits a run to the oldest ones; breaking out of the loop closes cleanly', async () => {
    expect((await collect(imap.settings(), { maxMessages: 2 })).map((m) => m.uid)).toEqual([1, 2]);
    for await (const m of readInbox(imap.settings())) {
      expect(m.uid).toBe(1);
      break;
    }
  });

  it('markProcessed hides marked messages; new mail shows up; a wrong UIDVALIDITY marks nothing', async () => {
    const uidValidity = first[0]!.uidValidity;
    const err = await rejection(markProcessed(imap.settings(), uidValidity + 1, [4, 5]));
    expect(err.code).toBe('ERR_MAIL_PROTOCOL');
    expect(err.message).toMatch(/UIDVALIDITY/);
    expect((await collect(imap.settings())).map((m) => m.uid)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);

    await markProcessed(imap.settings(), uidValidity, [1, 2, 3, 5, 7]);
    await markProcessed(imap.settings(), uidValidity, []); // no-op
    await imap.append(await composeMail({ from: FROM, to: TO, subject: 'm10 later', attachments: [
      { filename: 'later.xml', content: xmlB, contentType: 'application/xml' }] }));
    const next = await collect(imap.settings());
    expect(next.map((m) => m.uid)).toEqual([4, 6, 8, 9, 10]);
    expect(next.at(-1)!.attachments[0]!.content.equals(xmlB)).toBe(true);

    // marked ones carry both flags
    const client = new ImapFlow({ host: imap.host, port: imap.port, secure: false, auth: { user: imap.user, pass: imap.password }, logger: false });
    await client.connect();
    await client.mailboxOpen('INBOX', { readOnly: true });
    const flags = new Map<number, string[]>();
    for await (const msg of client.fetch('1:*', { uid: true, flags: true }, { uid: true })) flags.set(msg.uid, [...(msg.flags ?? [])]);
    await client.logout();
    expect(flags.get(1)).toEqual(expect.arrayContaining(['$TimbreProcessed', '\\Seen']));
    expect(flags.get(4)).toEqual([]);
  });

  it('survives a Dovecot restart: same UIDVALIDITY, unprocessed messages still there', async () => {
    await imap.restart();
    const after = await collect(imap.settings());
    expect(after.map((m) => m.uid)).toEqual([4, 6, 8, 9, 10]);
    expect(after[0]!.uidValidity).toBe(first[0]!.uidValidity);
    expect(after[0]!.attachments[0]!.content.equals(xmlA)).toBe(true);
  });

  it('unknown mailbox → ERR_MAIL_PROTOCOL', async () => {
    expect((await rejection(collect({ ...imap.settings(), mailbox: 'NoSuchBox' }))).code).toBe('ERR_MAIL_PROTOCOL');
  });

  // last: Dovecot penalises the client IP after a failed login (the next logins wait a few seconds)
  it('wrong password → ERR_MAIL_AUTH (reading and marking)', async () => {
    const bad = { ...imap.settings(), password: 'wrong' };
    const e1 = await rejection(collect(bad));
    expect(e1.code).toBe('ERR_MAIL_AUTH');
    expect(e1.message).not.toContain(imap.password);
    expect((await rejection(markProcessed(bad, 1, [1]))).code).toBe('ERR_MAIL_AUTH');
  });
});

// ---------- SMTP against smtp-server ----------
describe('sendMail against smtp-server', () => {
  let smtp: TestSmtpServer;
  beforeAll(async () => { smtp = await startTestSmtp(); });
  afterAll(async () => { await smtp?.stop(); });

  it('delivers the attachment byte-exact with from/to/subject', async () => {
    const res = await sendMail(smtp.settings('Empresa SpA <dte@empresa.cl>'), {
      to: 'facturas@proveedor.cl',
      subject: 'RespuestaDTE 33-100',
      text: 'Adjuntamos la respuesta.',
      messageId: '<resp-33-100@empresa.cl>',
      attachments: [{ filename: 'RespuestaDTE.xml', content: latin1Xml, contentType: 'text/xml' }],
    });
    expect(res).toEqual({ messageId: '<resp-33-100@empresa.cl>', accepted: ['facturas@proveedor.cl'] });
    expect(smtp.messages).toHaveLength(1);
    const got = smtp.messages[0]!;
    expect(got.from).toBe('dte@empresa.cl');
    expect(got.to).toEqual(['facturas@proveedor.cl']);
    const parsed = await simpleParser(got.raw);
    expect(parsed.subject).toBe('RespuestaDTE 33-100');
    expect(parsed.from?.value[0]?.address).toBe('dte@empresa.cl');
    expect(parsed.messageId).toBe('<resp-33-100@empresa.cl>');
    expect(parsed.text?.trim()).toBe('Adjuntamos la respuesta.');
    expect(parsed.attachments).toHaveLength(1);
    expect(parsed.attachments[0]!.filename).toBe('RespuestaDTE.xml');
    expect(parsed.attachments[0]!.content.equals(latin1Xml)).toBe(true);
  });

  it('round trip: what sendMail sends, readInbox reads back byte-exact', async () => {
    const imap = await startTestImap();
    try {
      await sendMail(smtp.settings('dte@empresa.cl'), {
        to: 'dte@cliente.cl', subject: 'EnvioDTE', text: '', attachments: [{ filename: 'EnvioDTE.xml', content: cp1252Xml, contentType: 'application/xml' }],
      });
      await imap.append(smtp.messages.at(-1)!.raw);
      const [m] = await collect(imap.settings());
      expect(m!.attachments.map((a) => a.filename)).toEqual(['EnvioDTE.xml']);
      expect(m!.attachments[0]!.content.equals(cp1252Xml)).toBe(true);
    } finally {
      await imap.stop();
    }
  });

  it('wrong password → ERR_MAIL_AUTH', async () => {
    const err = await rejection(sendMail({ ...smtp.settings('a@b.cl'), password: 'nope' }, { to: 'x@y.cl', subject: 's', text: 't', attachments: [] }));
    expect(err.code).toBe('ERR_MAIL_AUTH');
  });
});

// ---------- unreachable and silent servers ----------
describe('failures are typed and never hang', () => {
  let silent: Server;
  let silentPort: number;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    silent = createServer((s) => { sockets.push(s); }); // accepts, never says a word
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const a = silent.address();
    silentPort = typeof a === 'object' && a ? a.port : 0;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
  });

  const imapAt = (port: number): ImapSettings => ({ host: '127.0.0.1', port, secure: false, user: 'u', password: 'p', timeoutMs: 1000 });

  it('connection refused → ERR_MAIL_UNAVAILABLE (IMAP and SMTP)', async () => {
    const port = await freePort();
    expect((await rejection(collect(imapAt(port)))).code).toBe('ERR_MAIL_UNAVAILABLE');
    expect((await rejection(markProcessed(imapAt(port), 1, [1]))).code).toBe('ERR_MAIL_UNAVAILABLE');
    const err = await rejection(sendMail({ host: '127.0.0.1', port, secure: false, from: 'a@b.cl', timeoutMs: 1000 }, { to: 'x@y.cl', subject: 's', text: 't', attachments: [] }));
    expect(err.code).toBe('ERR_MAIL_UNAVAILABLE');
  });

  it('a server that never greets → ERR_MAIL_UNAVAILABLE after the timeout', async () => {
    const t0 = Date.now();
    expect((await rejection(collect(imapAt(silentPort)))).code).toBe('ERR_MAIL_UNAVAILABLE');
    const err = await rejection(sendMail({ host: '127.0.0.1', port: silentPort, secure: false, from: 'a@b.cl', timeoutMs: 1000 }, { to: 'x@y.cl', subject: 's', text: 't', attachments: [] }));
    expect(err.code).toBe('ERR_MAIL_UNAVAILABLE');
    expect(Date.now() - t0).toBeLessThan(15_000);
  });
});
