/**
 * A company's mail settings: the exchange mailbox it reads received DTEs from (IMAP) and the SMTP
 * account its responses leave through. Passwords are sealed with the SecretBox (like certificates)
 * and only `loadCompanyMail` opens them; `findCompanyMail` never returns them.
 */
import { Rut } from '@timbre/dte';
import type { Kysely } from 'kysely';
import type { Database } from '../database.js';
import type { SecretBox } from '../secret-box.js';
import type { CompanyMailRow } from '../tables/received.table.js';

export interface ImapSettingsInput {
  host: string;
  port: number;
  secure: boolean;
  user: string;
  /** Absent: keep the stored password. */
  password?: string;
  mailbox?: string;
  /** Default true. */
  tlsVerify?: boolean;
}

export interface SmtpSettingsInput {
  host: string;
  port: number;
  secure: boolean;
  user?: string;
  /** Absent: keep the stored password. */
  password?: string;
  from: string;
  /** Default true. */
  tlsVerify?: boolean;
}

export interface CompanyMailInput {
  /** null removes the IMAP settings; undefined keeps them. */
  imap?: ImapSettingsInput | null;
  smtp?: SmtpSettingsInput | null;
  now?: Date;
}

/** The settings as shown: no passwords, only whether one is stored. */
export interface CompanyMailSummary {
  rut_company: string;
  imap: { host: string; port: number; secure: boolean; user: string; mailbox: string; tls_verify: boolean; password_set: boolean } | null;
  smtp: { host: string; port: number; secure: boolean; user: string | null; from: string; tls_verify: boolean; password_set: boolean } | null;
  updated_at: string;
}

/** The settings with the passwords opened (for readInbox / sendMail). */
export interface CompanyMailSecrets {
  imap?: { host: string; port: number; secure: boolean; user: string; password: string; mailbox: string; tlsVerify: boolean };
  smtp?: { host: string; port: number; secure: boolean; user?: string; password?: string; from: string; tlsVerify: boolean };
}

const canonical = (rut: string): string => Rut.parse(rut, { field: 'rut' }).canonical;

function summarize(row: CompanyMailRow): CompanyMailSummary {
  return {
    rut_company: row.rut_company,
    imap:
      row.imap_host !== null
        ? { host: row.imap_host, port: Number(row.imap_port), secure: row.imap_secure === 1, user: row.imap_user ?? '', mailbox: row.mailbox ?? 'INBOX', tls_verify: row.imap_tls_verify !== 0, password_set: row.imap_password_encrypted !== null }
        : null,
    smtp:
      row.smtp_host !== null
        ? { host: row.smtp_host, port: Number(row.smtp_port), secure: row.smtp_secure === 1, user: row.smtp_user, from: row.smtp_from ?? '', tls_verify: row.smtp_tls_verify !== 0, password_set: row.smtp_password_encrypted !== null }
        : null,
    updated_at: row.updated_at,
  };
}

/** Insert or update the company's settings; a password left out keeps the stored one. */
export async function putCompanyMail(db: Kysely<Database>, box: SecretBox, rutCompany: string, input: CompanyMailInput): Promise<CompanyMailSummary> {
  const rut = canonical(rutCompany);
  const prev = await db.selectFrom('company_mail').selectAll().where('rut_company', '=', rut).executeTakeFirst();
  const now = (input.now ?? new Date()).toISOString();
  const row: CompanyMailRow = prev ?? {
    rut_company: rut,
    imap_host: null,
    imap_port: null,
    imap_secure: null,
    imap_user: null,
    imap_password_encrypted: null,
    mailbox: null,
    imap_tls_verify: 1,
    smtp_host: null,
    smtp_port: null,
    smtp_secure: null,
    smtp_user: null,
    smtp_password_encrypted: null,
    smtp_from: null,
    smtp_tls_verify: 1,
    updated_at: now,
  };
  if (input.imap === null) {
    Object.assign(row, { imap_host: null, imap_port: null, imap_secure: null, imap_user: null, imap_password_encrypted: null, mailbox: null });
  } else if (input.imap !== undefined) {
    const i = input.imap;
    Object.assign(row, {
      imap_host: i.host,
      imap_port: i.port,
      imap_secure: i.secure ? 1 : 0,
      imap_user: i.user,
      mailbox: i.mailbox ?? 'INBOX',
      imap_tls_verify: i.tlsVerify === false ? 0 : 1,
      imap_password_encrypted: i.password !== undefined ? box.seal(i.password) : row.imap_password_encrypted,
    });
  }
  if (input.smtp === null) {
    Object.assign(row, { smtp_host: null, smtp_port: null, smtp_secure: null, smtp_user: null, smtp_password_encrypted: null, smtp_from: null });
  } else if (input.smtp !== undefined) {
    const s = input.smtp;
    Object.assign(row, {
      smtp_host: s.host,
      smtp_port: s.port,
      smtp_secure: s.secure ? 1 : 0,
      smtp_user: s.user ?? null,
      smtp_from: s.from,
      smtp_tls_verify: s.tlsVerify === false ? 0 : 1,
      smtp_password_encrypted: s.password !== undefined ? box.seal(s.password) : s.user === undefined ? null : row.smtp_password_encrypted,
    });
  }
  row.updated_at = now;
  const { rut_company: _rut, ...values } = row;
  if (prev === undefined) await db.insertInto('company_mail').values(row).execute();
  else await db.updateTable('company_mail').set(values).where('rut_company', '=', rut).execute();
  return summarize(row);
}

/** The settings without passwords, or undefined when none were stored. */
export async function findCompanyMail(db: Kysely<Database>, rutCompany: string): Promise<CompanyMailSummary | undefined> {
  const row = await db.selectFrom('company_mail').selectAll().where('rut_company', '=', canonical(rutCompany)).executeTakeFirst();
  return row && summarize(row);
}

/** The settings with passwords opened; each side only when configured. */
export async function loadCompanyMail(db: Kysely<Database>, box: SecretBox, rutCompany: string): Promise<CompanyMailSecrets> {
  const row = await db.selectFrom('company_mail').selectAll().where('rut_company', '=', canonical(rutCompany)).executeTakeFirst();
  const out: CompanyMailSecrets = {};
  if (row === undefined) return out;
  if (row.imap_host !== null) {
    out.imap = {
      host: row.imap_host,
      port: Number(row.imap_port),
      secure: row.imap_secure === 1,
      user: row.imap_user ?? '',
      password: row.imap_password_encrypted !== null ? box.open(row.imap_password_encrypted).toString('utf8') : '',
      mailbox: row.mailbox ?? 'INBOX',
      tlsVerify: row.imap_tls_verify !== 0,
    };
  }
  if (row.smtp_host !== null) {
    out.smtp = {
      host: row.smtp_host,
      port: Number(row.smtp_port),
      secure: row.smtp_secure === 1,
      ...(row.smtp_user !== null ? { user: row.smtp_user } : {}),
      ...(row.smtp_password_encrypted !== null ? { password: box.open(row.smtp_password_encrypted).toString('utf8') } : {}),
      from: row.smtp_from ?? '',
      tlsVerify: row.smtp_tls_verify !== 0,
    };
  }
  return out;
}

/** Record where the inbox was read (informational). */
export async function saveInboxCursor(db: Kysely<Database>, c: { rutCompany: string; mailbox: string; uidValidity: string; lastUid?: number; now?: Date }): Promise<void> {
  const rut = canonical(c.rutCompany);
  const checkedAt = (c.now ?? new Date()).toISOString();
  await db
    .insertInto('inbox_cursor')
    .values({ rut_company: rut, mailbox: c.mailbox, uid_validity: c.uidValidity, last_uid: c.lastUid ?? null, checked_at: checkedAt })
    .onConflict((oc) =>
      oc.columns(['rut_company', 'mailbox']).doUpdateSet({ uid_validity: c.uidValidity, ...(c.lastUid !== undefined ? { last_uid: c.lastUid } : {}), checked_at: checkedAt }),
    )
    .execute();
}
