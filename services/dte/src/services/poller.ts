/**
 * The status poller: documents `sent` to the SII are asked about until the SII's answer is final,
 * with backoff (the SII takes seconds to hours), spread over time and capped per company per pass so
 * that one company's month-end never starves the others nor hammers the SII.
 *
 * Documents that share a track id are asked together (QueryEstUp once per envelope). When the
 * envelope's counts say every document had the same fate, that fate is applied to all; when they
 * are mixed (some rejected, or reparos beside clean acceptances) each document is asked with
 * QueryEstDte: not received → rejected, received → accepted (with reparos when the envelope only
 * had reparos; the SII's per-document reparo detail comes by e-mail, not by web service).
 * Documents without a track id (the upload's answer was lost but the SII had them) are asked with
 * QueryEstDte. Every status change goes through `transition` (with its event, in one transaction).
 * A group is claimed, rescheduled and moved with one statement each (per distinct schedule, poll
 * count or fate), not one per document: a pass over ten 50-document envelopes is ~30 statements.
 */
import { TimbreError } from '@timbre/dte';
import type { EstadoEnvio } from '@timbre/sii';
import { writeTransaction, type DteStatus } from '@timbre/store';
import { PeriodicTask } from './periodic.js';
import { estDteQuery, retryDelayMs, type PipelineDeps } from './pipeline.js';
import { DTE_STATE_COLUMNS, transition, type DteState } from './status.js';

export interface PollerOptions {
  /** How often the poller wakes, ms. */
  intervalMs: number;
  /** Documents looked at per pass. */
  batch: number;
  /** At most this many SII queries per company per pass. */
  perCompany: number;
  /** First delay after a non-final answer, ms; doubles per poll (±20 %), at most `maxMs`. */
  baseMs: number;
  maxMs: number;
}

export interface PollResult {
  queried: number;
  changed: number;
}

/** What the SII's answer makes of one document. */
interface Fate {
  status: DteStatus;
  siiStatus: string;
  display: string;
  error: string | null;
}

const TRANSIENT = new Set(['ERR_SII_UNAVAILABLE', 'ERR_SII_TIMEOUT', 'ERR_SII_CIRCUIT_OPEN', 'ERR_SII_QUERY_FAILED', 'ERR_SII_TOKEN_EXPIRED']);

export class StatusPoller {
  private readonly loop: PeriodicTask;
  /** Groups claimed by this poller that it could neither resolve nor reschedule (database errors). */
  private readonly stranded: Array<{ ids: number[]; until: string }> = [];

  constructor(
    private readonly deps: PipelineDeps,
    private readonly options: PollerOptions,
  ) {
    this.loop = new PeriodicTask(() => this.pollOnce(), { intervalMs: options.intervalMs, onError: (err) => deps.log.error({ err }, 'status poll failed') });
  }

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** One pass over the documents that are due. */
  async pollOnce(): Promise<PollResult> {
    const { db } = this.deps;
    const now = this.deps.now();
    await this.releaseStranded(now);
    // Without the large texts: a pass over 500 documents would read 4 MB of XML it rarely needs
    // (only a document asked about on its own needs its XML, read then).
    const due = await db
      .selectFrom('dte')
      .select(DTE_STATE_COLUMNS)
      .where('status', '=', 'sent')
      .where((eb) => eb.or([eb('next_poll_at', 'is', null), eb('next_poll_at', '<=', now.toISOString())]))
      .orderBy('next_poll_at')
      .orderBy('id')
      .limit(this.options.batch)
      .execute();

    // Group by envelope (track id), or one group per document without a track id.
    const groups = new Map<string, DteState[]>();
    for (const d of due) {
      const key = d.sii_track_id ? `${d.rut_emisor}|${d.sii_track_id}` : `doc|${d.id}`;
      const g = groups.get(key);
      if (g) g.push(d);
      else groups.set(key, [d]);
    }
    const perCompany = new Map<string, number>();
    const result: PollResult = { queried: 0, changed: 0 };
    for (const docs of groups.values()) {
      const rut = (docs[0] as DteState).rut_emisor;
      const used = perCompany.get(rut) ?? 0;
      if (used >= this.options.perCompany) continue;
      perCompany.set(rut, used + 1);
      // Claim: push the next poll forward first, so a concurrent poller skips these.
      const until = new Date(now.getTime() + Math.max(this.deps.leaseMs, 60_000)).toISOString();
      let claimed: DteState[];
      try {
        claimed = await this.claim(docs, until);
      } catch (err) {
        // The connection died during the claim: the UPDATE may have committed without our knowing.
        // Release it on the next pass (only rows still holding exactly this claim), not after the lease.
        this.stranded.push({ ids: docs.map((d) => d.id), until });
        throw err;
      }
      if (claimed.length === 0) continue;
      result.queried++;
      try {
        result.changed += await this.resolve(claimed);
      } catch (e) {
        if (!(e instanceof TimbreError) || !TRANSIENT.has(e.code)) this.deps.log.warn({ err: e, rut }, 'status query refused');
        try {
          await this.reschedule(claimed, now);
        } catch (err) {
          // The database went away between the claim and now: without this, the group would wait
          // for its claim to lapse (leaseMs) although this process is alive and knows about it.
          this.stranded.push({ ids: claimed.map((d) => d.id), until });
          throw err;
        }
      }
    }
    return result;
  }

  /** Make stranded groups due again (only if still as this poller left them). Throws while the database is away. */
  private async releaseStranded(now: Date): Promise<void> {
    while (this.stranded.length > 0) {
      const s = this.stranded[0] as { ids: number[]; until: string };
      await this.deps.db
        .updateTable('dte')
        .set({ next_poll_at: now.toISOString() })
        .where('id', 'in', s.ids)
        .where('status', '=', 'sent')
        .where('next_poll_at', '=', s.until)
        .execute();
      this.stranded.shift();
    }
  }

  /**
   * Claim a group: push its next poll forward first, so a concurrent poller skips it. One guarded
   * UPDATE per distinct `next_poll_at` read (a group sent together has one): a row is claimed only
   * if it is still `sent` and nobody moved its schedule since it was read.
   */
  private async claim(docs: DteState[], until: string): Promise<DteState[]> {
    const bySchedule = new Map<string | null, number[]>();
    for (const d of docs) {
      const ids = bySchedule.get(d.next_poll_at);
      if (ids) ids.push(d.id);
      else bySchedule.set(d.next_poll_at, [d.id]);
    }
    const claimed = new Map<number, DteState>();
    for (const [due, ids] of bySchedule) {
      const rows = await this.deps.db
        .updateTable('dte')
        .set({ next_poll_at: until })
        .where('id', 'in', ids)
        .where('status', '=', 'sent')
        .where((eb) => (due === null ? eb('next_poll_at', 'is', null) : eb('next_poll_at', '=', due)))
        .returning(DTE_STATE_COLUMNS)
        .execute();
      for (const r of rows) claimed.set(Number(r.id), r);
    }
    return docs.map((d) => claimed.get(Number(d.id))).filter((r): r is DteState => r !== undefined);
  }

  /** Next poll with backoff: one UPDATE per distinct poll count (a group asked together shares one). */
  private async reschedule(docs: DteState[], now: Date): Promise<void> {
    const byPolls = new Map<number, number[]>();
    for (const d of docs) {
      const ids = byPolls.get(d.poll_attempts);
      if (ids) ids.push(d.id);
      else byPolls.set(d.poll_attempts, [d.id]);
    }
    for (const [attempts, ids] of byPolls) {
      const polls = attempts + 1;
      const delay = Math.min(this.options.maxMs, retryDelayMs(this.options.baseMs, polls));
      await this.deps.db
        .updateTable('dte')
        .set({ poll_attempts: polls, next_poll_at: new Date(now.getTime() + delay).toISOString() })
        .where('id', 'in', ids)
        .where('status', '=', 'sent')
        .execute();
    }
  }

  /** Ask the SII about one group; apply what is final; returns how many documents changed. */
  private async resolve(docs: DteState[]): Promise<number> {
    const first = docs[0] as DteState;
    const signer = await this.deps.signers.forCompany(first.rut_emisor, this.deps.now());
    const fates = new Map<number, Fate>();
    if (first.sii_track_id) {
      const estado = await signer.sii.getEstUp(first.sii_track_id, first.rut_emisor);
      this.deps.metrics.siiCalls.inc({ operation: 'getEstUp', outcome: estado.estado });
      if (!estado.final) {
        await this.reschedule(docs, this.deps.now());
        return 0;
      }
      const uniform = uniformFate(estado, docs.length);
      for (const d of docs) {
        if (uniform !== undefined) {
          fates.set(d.id, { status: uniform, siiStatus: estado.estado, display: estado.glosa, error: uniform === 'rejected' ? `${estado.estado}: ${estado.glosa}` : null });
        } else {
          fates.set(d.id, await this.perDocument(signer.sii, d, estado));
        }
      }
    } else {
      const estado = await signer.sii.getEstDte(estDteQuery(await this.withXml(first)));
      this.deps.metrics.siiCalls.inc({ operation: 'getEstDte', outcome: estado.estado });
      if (estado.estado === 'DOK') fates.set(first.id, { status: 'accepted', siiStatus: estado.estado, display: estado.glosa, error: null });
      else if (estado.recibido) fates.set(first.id, { status: 'accepted_with_reparos', siiStatus: estado.estado, display: estado.glosa, error: estado.glosaErr ?? null });
      else {
        await this.reschedule(docs, this.deps.now());
        return 0;
      }
    }
    // Documents with the same fate (usually the whole envelope) change together: one transition each.
    const byFate = new Map<string, { fate: Fate; docs: DteState[] }>();
    for (const d of docs) {
      const fate = fates.get(d.id);
      if (fate === undefined) continue;
      const key = JSON.stringify([fate.status, fate.siiStatus, fate.display, fate.error]);
      const g = byFate.get(key);
      if (g) g.docs.push(d);
      else byFate.set(key, { fate, docs: [d] });
    }
    let changed = 0;
    await writeTransaction(this.deps.db, async (trx) => {
      for (const { fate, docs: same } of byFate.values()) {
        const done = await transition(trx, same, ['sent'], {
          status: fate.status,
          siiStatus: fate.siiStatus,
          display: fate.display,
          errorMessage: fate.error,
          extra: { next_poll_at: null },
        });
        changed += done.length;
      }
    });
    for (const fate of fates.values()) this.deps.metrics.documents.inc({ dte_type: String(first.tipo_dte), status: fate.status });
    return changed;
  }

  /** The document with its signed XML (QueryEstDte's key is read from it). */
  private async withXml(d: DteState): Promise<DteState & { xml_signed: string | null }> {
    const r = await this.deps.db.selectFrom('dte').select('xml_signed').where('id', '=', d.id).executeTakeFirst();
    return { ...d, xml_signed: r?.xml_signed ?? null };
  }

  private async perDocument(
    sii: Awaited<ReturnType<PipelineDeps['signers']['forCompany']>>['sii'],
    d: DteState,
    envio: EstadoEnvio,
  ): Promise<Fate> {
    const estado = await sii.getEstDte(estDteQuery(await this.withXml(d)));
    this.deps.metrics.siiCalls.inc({ operation: 'getEstDte', outcome: estado.estado });
    if (!estado.recibido) return { status: 'rejected', siiStatus: estado.estado, display: estado.glosa, error: `${envio.estado}: ${estado.glosa}` };
    const onlyReparos = envio.counts.reduce((a, c) => a + c.aceptados, 0) === 0;
    return { status: onlyReparos ? 'accepted_with_reparos' : 'accepted', siiStatus: estado.estado, display: estado.glosa, error: estado.glosaErr ?? null };
  }
}

/** The fate of every document of an envelope when its counts leave no doubt, else undefined. */
export function uniformFate(estado: EstadoEnvio, documents: number): DteStatus | undefined {
  const sum = (k: 'aceptados' | 'rechazados' | 'reparos') => estado.counts.reduce((a, c) => a + c[k], 0);
  switch (estado.outcome) {
    case 'accepted':
      return 'accepted';
    case 'rejected':
      return 'rejected';
    case 'accepted_with_reparos':
      return documents === 1 || sum('reparos') >= documents ? 'accepted_with_reparos' : undefined;
    case 'partially_rejected':
      return documents === 1 ? 'rejected' : undefined;
    default:
      return undefined;
  }
}
