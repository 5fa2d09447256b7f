/**
 * Reads and writes of the monitor's tables. A pass's new publications and the end of its run row
 * are one transaction, so a crash leaves either both or neither: the notifier (which only reads
 * committed rows) can never announce a publication whose run was lost, nor miss one that was kept.
 */
import { randomUUID } from 'node:crypto';
import type { Classification, SiiPublication } from '@timbre/sii-monitor';
import type { Kysely, Selectable } from 'kysely';
import type { AiDatabase, SiiMonitorRunTable, SiiPublicationTable } from './schema.js';

export type PublicationRow = Selectable<SiiPublicationTable>;
export type RunRow = Selectable<SiiMonitorRunTable>;

export interface NewPublication {
  item: SiiPublication;
  classification: Classification;
  notify: boolean;
}

const key = (i: { tipo: string; anio: number; numero: string }): string => `${i.tipo}:${i.anio}:${i.numero}`;

export class MonitorRepository {
  constructor(readonly db: Kysely<AiDatabase>) {}

  async startRun(trigger: 'schedule' | 'manual', startedAt: string): Promise<number> {
    const row = await this.db.insertInto('sii_monitor_run').values({ trigger, started_at: startedAt, status: 'running' }).returning('id').executeTakeFirstOrThrow();
    return row.id;
  }

  /** Items whose (tipo, año, número) is not stored yet. */
  async unseen(items: readonly SiiPublication[]): Promise<SiiPublication[]> {
    if (items.length === 0) return [];
    const years = [...new Set(items.map((i) => i.anio))];
    const rows = await this.db.selectFrom('sii_publication').select(['tipo', 'anio', 'numero']).where('anio', 'in', years).execute();
    const known = new Set(rows.map(key));
    return items.filter((i) => !known.has(key(i)));
  }

  /**
   * Store the new publications and close the run, atomically. Returns the rows actually inserted (a
   * concurrent pass in another process may have stored some first: those are not ours to report).
   */
  async finishRun(input: {
    runId: number;
    finishedAt: string;
    status: 'ok' | 'partial' | 'failed';
    errors: Array<{ code: string; message: string; url?: string | undefined }>;
    items: NewPublication[];
  }): Promise<PublicationRow[]> {
    return this.db.transaction().execute(async (trx) => {
      let inserted: PublicationRow[] = [];
      if (input.items.length > 0) {
        inserted = await trx
          .insertInto('sii_publication')
          .values(
            input.items.map(({ item, classification: c, notify }) => ({
              tipo: item.tipo,
              numero: item.numero,
              anio: item.anio,
              fecha: item.fecha,
              vigencia: c.vigencia,
              titulo: item.titulo,
              materia: item.materia ?? null,
              resumen: c.resumen,
              impacto: c.impacto,
              prioridad: c.prioridad,
              relevante_dte: c.relevante_dte ? 1 : 0,
              url: item.url,
              notify: notify ? 1 : 0,
              delivery_id: `sii-${randomUUID()}`,
              first_seen_at: input.finishedAt,
              run_id: input.runId,
              notified_at: null,
              next_notify_at: notify ? input.finishedAt : null,
              last_error: null,
            })),
          )
          .onConflict((oc) => oc.columns(['tipo', 'anio', 'numero']).doNothing())
          .returningAll()
          .execute();
      }
      await trx
        .updateTable('sii_monitor_run')
        .set({
          finished_at: input.finishedAt,
          status: input.status,
          error: input.errors.length > 0 ? JSON.stringify(input.errors) : null,
          new_count: inserted.length,
        })
        .where('id', '=', input.runId)
        .execute();
      return inserted;
    });
  }

  /** A run that died with the process stays `running`; on start it is closed as failed. */
  async abandonRunning(at: string): Promise<void> {
    await this.db
      .updateTable('sii_monitor_run')
      .set({ status: 'failed', finished_at: at, error: JSON.stringify([{ code: 'ERR_RUN_ABANDONED', message: 'the service stopped during the run' }]) })
      .where('status', '=', 'running')
      .execute();
  }

  async due(now: string, limit = 50): Promise<PublicationRow[]> {
    return this.db
      .selectFrom('sii_publication')
      .selectAll()
      .where('notify', '=', 1)
      .where('notified_at', 'is', null)
      .where('next_notify_at', '<=', now)
      .orderBy('next_notify_at')
      .orderBy('id')
      .limit(limit)
      .execute();
  }

  async nextDueAt(): Promise<string | undefined> {
    const row = await this.db.selectFrom('sii_publication').select((eb) => eb.fn.min('next_notify_at').as('at')).where('notify', '=', 1).where('notified_at', 'is', null).executeTakeFirst();
    return (row?.at as string | null | undefined) ?? undefined;
  }

  async markNotified(id: number, at: string): Promise<void> {
    await this.db
      .updateTable('sii_publication')
      .set((eb) => ({ notified_at: at, next_notify_at: null, last_error: null, notify_attempts: eb('notify_attempts', '+', 1) }))
      .where('id', '=', id)
      .where('notified_at', 'is', null)
      .execute();
  }

  async markFailed(id: number, error: string, nextAt: string): Promise<void> {
    await this.db
      .updateTable('sii_publication')
      .set((eb) => ({ last_error: error.slice(0, 1000), next_notify_at: nextAt, notify_attempts: eb('notify_attempts', '+', 1) }))
      .where('id', '=', id)
      .where('notified_at', 'is', null)
      .execute();
  }

  async getRun(id: number): Promise<RunRow | undefined> {
    return this.db.selectFrom('sii_monitor_run').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async lastRun(): Promise<RunRow | undefined> {
    return this.db.selectFrom('sii_monitor_run').selectAll().orderBy('id', 'desc').limit(1).executeTakeFirst();
  }

  async recent(filter: { limit: number; tipo?: SiiPublication['tipo']; minPrioridad?: number }): Promise<PublicationRow[]> {
    let q = this.db.selectFrom('sii_publication').selectAll();
    if (filter.tipo) q = q.where('tipo', '=', filter.tipo);
    if (filter.minPrioridad !== undefined) q = q.where('prioridad', '>=', filter.minPrioridad);
    return q.orderBy('fecha', 'desc').orderBy('id', 'desc').limit(filter.limit).execute();
  }

  async counts(): Promise<{ total: number; relevantes: number; notificadas: number; pendientes: number; por_tipo: Record<string, number> }> {
    const rows = await this.db
      .selectFrom('sii_publication')
      .select((eb) => [
        'tipo',
        eb.fn.countAll<number>().as('n'),
        eb.fn.sum<number>('relevante_dte').as('rel'),
        eb.fn.count<number>('notified_at').as('notified'),
        eb.fn.sum<number>(eb.case().when(eb.and([eb('notify', '=', 1), eb('notified_at', 'is', null)])).then(1).else(0).end()).as('pending'),
      ])
      .groupBy('tipo')
      .execute();
    const out = { total: 0, relevantes: 0, notificadas: 0, pendientes: 0, por_tipo: {} as Record<string, number> };
    for (const r of rows) {
      out.total += Number(r.n);
      out.relevantes += Number(r.rel ?? 0);
      out.notificadas += Number(r.notified);
      out.pendientes += Number(r.pending ?? 0);
      out.por_tipo[r.tipo] = Number(r.n);
    }
    return out;
  }
}
