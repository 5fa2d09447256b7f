import { Rut } from '@timbre/dte';
import type { Kysely } from 'kysely';
import type { Database } from '../database.js';
import type { DteRow } from '../tables/dte.table.js';
import type { EnvioRow, EnvioTable } from '../tables/envio.table.js';

const canon = (rut: string): string => Rut.parse(rut, { field: 'rutEmisor' }).canonical;

export interface EnvioInput {
  rutEmisor: string;
  kind: EnvioTable['kind'];
  documents: number;
  xml: string;
  /** ISO-8601 UTC: the inserting worker owns it until then. */
  leaseUntil?: string | null;
  leaseOwner?: string | null;
}

export async function insertEnvio(db: Kysely<Database>, input: EnvioInput): Promise<EnvioRow> {
  const now = new Date().toISOString();
  return db
    .insertInto('envio')
    .values({
      rut_emisor: canon(input.rutEmisor),
      kind: input.kind,
      status: 'built',
      documents: input.documents,
      xml: input.xml,
      track_id: null,
      sii_status: null,
      lease_until: input.leaseUntil ?? null,
      lease_owner: input.leaseOwner ?? null,
      next_attempt_at: null,
      error_message: null,
      created_at: now,
      updated_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export type EnvioPatch = Partial<Pick<EnvioRow, 'status' | 'track_id' | 'sii_status' | 'upload_attempts' | 'attempts' | 'lease_until' | 'lease_owner' | 'next_attempt_at' | 'error_message'>>;

export async function patchEnvio(db: Kysely<Database>, id: number, patch: EnvioPatch): Promise<EnvioRow | undefined> {
  return db
    .updateTable('envio')
    .set({ ...patch, updated_at: new Date().toISOString() })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

export async function findEnvio(db: Kysely<Database>, id: number): Promise<EnvioRow | undefined> {
  return db.selectFrom('envio').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Take the lease of a `built` envelope (one guarded UPDATE); undefined when sent or someone else's. */
export async function leaseEnvio(db: Kysely<Database>, id: number, opts: { now: Date; leaseMs: number; owner?: string }): Promise<EnvioRow | undefined> {
  const now = opts.now.toISOString();
  const owner = opts.owner ?? null;
  return db
    .updateTable('envio')
    .set({ lease_until: new Date(opts.now.getTime() + opts.leaseMs).toISOString(), lease_owner: owner })
    .where('id', '=', id)
    .where('status', '=', 'built')
    .where((eb) => {
      const free = [eb('lease_until', 'is', null), eb('lease_until', '<', now)];
      return eb.or(owner === null ? free : [...free, eb('lease_owner', '=', owner)]);
    })
    .returningAll()
    .executeTakeFirst();
}

/** Built envelopes nobody holds whose retry time has come, oldest first. */
export async function listDueEnvios(db: Kysely<Database>, f: { now: Date; limit?: number; rutEmisor?: string; ignoreSchedule?: boolean }): Promise<EnvioRow[]> {
  const now = f.now.toISOString();
  let q = db
    .selectFrom('envio')
    .selectAll()
    .where('status', '=', 'built')
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]));
  if (!f.ignoreSchedule) q = q.where((eb) => eb.or([eb('next_attempt_at', 'is', null), eb('next_attempt_at', '<=', now)]));
  if (f.rutEmisor !== undefined) q = q.where('rut_emisor', '=', canon(f.rutEmisor));
  return q.orderBy('id').limit(Math.min(1000, Math.max(1, Math.trunc(f.limit ?? 100)))).execute();
}

/** The documents an envelope carries, in folio order. */
export async function listDtesOfEnvio(db: Kysely<Database>, envioId: number): Promise<DteRow[]> {
  return db.selectFrom('dte').selectAll().where('envio_id', '=', envioId).orderBy('tipo_dte').orderBy('folio').execute();
}
