/**
 * Test support: a real Dovecot IMAP server and a real SMTP server (nodemailer's smtp-server), each on
 * its own free port on 127.0.0.1, with throw-away credentials. Not for production use.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, chmodSync, chownSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import { ImapFlow } from 'imapflow';
import type * as SmtpServerModule from 'smtp-server';
import type { ImapSettings, SmtpSettings } from './types.js';

export { composeMail } from './compose.js';
export type { ComposeInput } from './compose.js';

export interface TestImapServer {
  host: string;
  port: number;
  user: string;
  password: string;
  /** the temporary directory holding config, logs and the maildir */
  dir: string;
  settings(): ImapSettings;
  /** deliver one RFC 822 message to INBOX via IMAP APPEND */
  append(raw: Buffer | string): Promise<void>;
  /** stop Dovecot and start it again on the same port, config and maildir */
  restart(): Promise<void>;
  /** Dovecot's log so far (for failing tests) */
  log(): string;
  /** kill Dovecot, wait for it to exit, remove the temporary directory */
  stop(): Promise<void>;
}

export interface TestSmtpServer {
  port: number;
  user: string;
  password: string;
  settings(from: string): SmtpSettings;
  messages: Array<{ from: string; to: string[]; raw: Buffer }>;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function findDovecot(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, 'dovecot');
    try { accessSync(p, constants.X_OK); return p; } catch { /* next */ }
  }
  return undefined;
}

function lookupUser(name: string): { uid: number; gid: number } | undefined {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === name && f[2] && f[3]) return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch { /* no /etc/passwd */ }
  return undefined;
}

function groupName(gid: number): string | undefined {
  try {
    for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[2] !== undefined && Number(f[2]) === gid && f[0]) return f[0];
    }
  } catch { /* no /etc/group */ }
  return undefined;
}

/**
 * Start a real Dovecot (Debian `dovecot-imapd`) with a temporary configuration: its own free port on
 * 127.0.0.1, passwd-file auth with a random password, a maildir in a temp directory, plaintext auth
 * allowed, no TLS. As a normal user everything runs as that user; as root, Dovecot refuses to run
 * mail or login processes as root, so it uses the package's `dovecot` / `dovenull` users.
 */
export async function startTestImap(): Promise<TestImapServer> {
  const bin = findDovecot();
  if (!bin) throw new Error('dovecot is not installed: apt-get install dovecot-imapd (the tests run a real Dovecot IMAP server)');
  const me = userInfo();
  const isRoot = me.uid === 0;
  let internal: { user: string; group: string; uid: number; gid: number };
  let loginUser: string;
  if (isRoot) {
    const dv = lookupUser('dovecot');
    const dn = lookupUser('dovenull');
    if (!dv || !dn) throw new Error('running as root needs the users dovecot and dovenull that the dovecot-core package creates');
    internal = { user: 'dovecot', group: groupName(dv.gid) ?? 'dovecot', uid: dv.uid, gid: dv.gid };
    loginUser = 'dovenull';
  } else {
    internal = { user: me.username, group: groupName(me.gid) ?? String(me.gid), uid: me.uid, gid: me.gid };
    loginUser = me.username;
  }

  const dir = mkdtempSync(join(tmpdir(), 'timbre-dovecot-'));
  const user = 'timbre';
  const password = randomBytes(12).toString('hex');
  const port = await freePort();
  mkdirSync(join(dir, 'run'));
  mkdirSync(join(dir, 'state'));
  mkdirSync(join(dir, 'home'));
  const passwdFile = join(dir, 'passwd');
  writeFileSync(passwdFile, `${user}:{PLAIN}${password}\n`, { mode: 0o600 });
  if (isRoot) {
    chmodSync(dir, 0o755); // login processes (dovenull) reach run/login
    chownSync(passwdFile, internal.uid, internal.gid); // read by the auth process
    chownSync(join(dir, 'home'), internal.uid, internal.gid);
  }
  const conf = join(dir, 'dovecot.conf');
  const logFile = join(dir, 'dovecot.log');
  writeFileSync(conf, `# generated by @timbre/mail/testing
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${logFile}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = ${internal.user}
default_internal_group = ${internal.group}
default_login_user = ${loginUser}
first_valid_uid = 1
mail_location = maildir:${dir}/home/%u/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${passwdFile}
}
userdb {
  driver = static
  args = uid=${internal.uid} gid=${internal.gid} home=${dir}/home/%u
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
`);

  const host = '127.0.0.1';
  const settings = (): ImapSettings => ({ host, port, secure: false, user, password, timeoutMs: 10_000 });
  let child: ChildProcess | undefined;
  let stderr = '';
  const readLog = (): string => {
    try { return readFileSync(logFile, 'utf8'); } catch { return ''; }
  };
  const killOnExit = (): void => { child?.kill('SIGKILL'); };

  const launch = async (): Promise<void> => {
    stderr = '';
    const proc = spawn(bin, ['-F', '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    proc.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
    process.once('exit', killOnExit);
    let exited: string | undefined;
    proc.once('exit', (code, signal) => { exited = `dovecot exited (${signal ?? code})`; });
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (exited) break;
      const client = new ImapFlow({ host, port, secure: false, auth: { user, pass: password }, logger: false, connectionTimeout: 2000, greetingTimeout: 5000 });
      client.on('error', () => {});
      try {
        await client.connect();
        await client.logout();
        return;
      } catch {
        client.close();
      }
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const why = exited ?? 'dovecot did not accept a login within 20 s';
    await halt();
    throw new Error(`${why}\n${stderr}\n${readLog()}`);
  };

  const halt = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    process.removeListener('exit', killOnExit);
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      proc.once('exit', () => { clearTimeout(t); resolve(); });
      proc.kill('SIGTERM');
    });
  };

  try {
    await launch();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    host, port, user, password, dir,
    settings,
    async append(raw) {
      const client = new ImapFlow({ host, port, secure: false, auth: { user, pass: password }, logger: false });
      client.on('error', () => {});
      try {
        await client.connect();
        await client.append('INBOX', typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw);
        await client.logout();
      } finally {
        client.close();
      }
    },
    async restart() {
      await halt();
      await launch();
    },
    log: readLog,
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A real SMTP server (nodemailer's smtp-server) on a free port, AUTH PLAIN/LOGIN required, no TLS, capturing every message. */
export async function startTestSmtp(): Promise<TestSmtpServer> {
  let mod: typeof SmtpServerModule;
  try {
    mod = await import('smtp-server');
  } catch {
    throw new Error('startTestSmtp needs the smtp-server package (a devDependency of @timbre/mail): npm install -D smtp-server');
  }
  const user = 'timbre';
  const password = randomBytes(12).toString('hex');
  const messages: TestSmtpServer['messages'] = [];
  const server = new mod.SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    authMethods: ['PLAIN', 'LOGIN'],
    allowInsecureAuth: true,
    logger: false,
    size: 64 * 1024 * 1024,
    onAuth(auth, _session, cb) {
      if (auth.username === user && auth.password === password) cb(null, { user });
      else cb(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        messages.push({ from, to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks) });
        cb();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  server.on('error', () => {});
  const addr = server.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    port, user, password, messages,
    settings: (from) => ({ host: '127.0.0.1', port, secure: false, user, password, from, timeoutMs: 10_000 }),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface ZipEntryIn { name: string; data: Buffer; deflate?: boolean; declaredSize?: number }
/** A minimal ZIP writer, so tests control every header (including lying ones: declaredSize). */
export function makeZip(entries: ZipEntryIn[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const comp = e.deflate === false ? e.data : deflateRawSync(e.data, { level: 9 });
    const method = e.deflate === false ? 0 : 8;
    const crc = crc32(e.data);
    const usize = e.declaredSize ?? e.data.length;
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0); lh.writeUInt16LE(20, 4); lh.writeUInt16LE(0x800, 6); lh.writeUInt16LE(method, 8);
    lh.writeUInt16LE(0, 10); lh.writeUInt16LE(0x21, 12); lh.writeUInt32LE(crc, 14); lh.writeUInt32LE(comp.length, 18);
    lh.writeUInt32LE(usize, 22); lh.writeUInt16LE(name.length, 26); lh.writeUInt16LE(0, 28);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0); ch.writeUInt16LE(20, 4); ch.writeUInt16LE(20, 6); ch.writeUInt16LE(0x800, 8);
    ch.writeUInt16LE(method, 10); ch.writeUInt16LE(0, 12); ch.writeUInt16LE(0x21, 14); ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(comp.length, 20); ch.writeUInt32LE(usize, 24); ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(offset, 42);
    locals.push(lh, name, comp);
    centrals.push(ch, name);
    offset += 30 + name.length + comp.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0); eocd.writeUInt16LE(entries.length, 8); eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12); eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}
