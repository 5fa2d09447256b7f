import { call, type Ctx } from './helper.js';

export interface Progress {
  batch_id: string;
  total: number;
  done: number;
  status: string;
  counts: Record<string, number>;
  documents: Array<{ index: number; id: number | null; dte_type: string; folio: number | null; status: string; sii_track_id: string | null; error_message: string | null }>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll GET /api/v1/dte/batch/{id} until `until` holds (or fail with the last progress). */
export async function waitBatch(
  target: Ctx | { url: string; token: string },
  batchId: string,
  until: (p: Progress) => boolean,
  timeoutMs = 60_000,
): Promise<Progress> {
  const started = Date.now();
  let last: Progress | undefined;
  for (;;) {
    if ('app' in target) {
      last = (await call(target, 'GET', `/api/v1/dte/batch/${batchId}`)).json as Progress;
    } else {
      const r = await fetch(`${target.url}/api/v1/dte/batch/${batchId}`, { headers: { authorization: `Bearer ${target.token}` } });
      last = (await r.json()) as Progress;
    }
    if (process.env.BATCH_TRACE) console.log(Date.now() - started, JSON.stringify(last.counts));
    if (until(last)) return last;
    if (Date.now() - started > timeoutMs) throw new Error(`batch ${batchId} did not get there in ${timeoutMs} ms: ${JSON.stringify(last.counts)}`);
    await sleep(200);
  }
}

interface SimEnvioSummary {
  trackId: string;
  intentos: number;
}
interface SimEnvioDetail extends SimEnvioSummary {
  documentos?: Array<{ tipoDte?: number; folio?: number; estado: string; errores: Array<{ codigo?: string; code?: string }> }>;
}

/**
 * What the simulated SII holds: every envío with its documents, how many envíos each document
 * (`tipo/folio`) appears in, and documents it saw twice (DTE-3-100 repeated / DTE-3-101 reused).
 */
export async function simDocuments(simUrl: string): Promise<{
  envios: Array<{ trackId: string; documents: number; tipos: number[]; intentos: number }>;
  count: Map<string, number>;
  accepted: Set<string>;
  duplicates: string[];
}> {
  const list = (await (await fetch(`${simUrl}/sim/envios`)).json()) as SimEnvioSummary[];
  const envios: Array<{ trackId: string; documents: number; tipos: number[]; intentos: number }> = [];
  const count = new Map<string, number>();
  const accepted = new Set<string>();
  const duplicates: string[] = [];
  for (const e of list) {
    const d = (await (await fetch(`${simUrl}/sim/envios/${e.trackId}`)).json()) as SimEnvioDetail;
    const docs = d.documentos ?? [];
    envios.push({ trackId: e.trackId, documents: docs.length, tipos: [...new Set(docs.map((x) => x.tipoDte ?? 0))], intentos: e.intentos });
    for (const x of docs) {
      const key = `${x.tipoDte}/${x.folio}`;
      count.set(key, (count.get(key) ?? 0) + 1);
      if (x.estado === 'ACEPTADO' || x.estado === 'REPARO') accepted.add(key);
      const codes = JSON.stringify(x.errores);
      if (/DTE-3-10[01]/.test(codes)) duplicates.push(key);
    }
  }
  return { envios, count, accepted, duplicates };
}
