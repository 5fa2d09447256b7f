import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { signToken, type Permission } from '@timbre/auth';
import { generateFixtures, type Fixtures } from '@timbre/dte';
import { createSimulator, type Simulator } from '@timbre/sii-sim';
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppConfig } from '../src/app.js';

export const RUT = '76086428-5';
export const OTHER_RUT = '77894717-K';
export const example = (tipo: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../../../examples/dte/${tipo}.json`, import.meta.url), 'utf8')) as Record<string, unknown>;

export interface Ctx {
  app: FastifyInstance;
  url: string;
  sim: Simulator;
  simUrl: string;
  fixtures: Fixtures;
  jwtKey: Uint8Array;
  admin: string;
  close(): Promise<void>;
}

/** Simulator + service on a fresh database (SQLite temp file unless `databaseUrl` is given). */
export async function setup(opts: { databaseUrl?: string; searchPath?: string; pipeline?: AppConfig['pipeline']; simStatusDelayMs?: number; config?: Partial<AppConfig> } = {}): Promise<Ctx> {
  const sim = createSimulator({ statusDelayMs: opts.simStatusDelayMs ?? 0 });
  const simUrl = await sim.start(0);
  const dir = mkdtempSync(join(tmpdir(), 'timbre-dte-svc-'));
  const jwtKey = new Uint8Array(randomBytes(32));
  const app = await buildApp({
    databaseUrl: opts.databaseUrl ?? `sqlite:${join(dir, 'timbre.db')}`,
    ...(opts.searchPath ? { databaseSearchPath: opts.searchPath } : {}),
    masterKey: randomBytes(32),
    jwtKey,
    sii: { environment: 'sim', url: simUrl, maxAttempts: 1, timeoutMs: 10_000 },
    ...(opts.pipeline ? { pipeline: opts.pipeline } : {}),
    ...(opts.config ?? {}),
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const fixtures = generateFixtures({ tipos: [33], p12Password: 'Pw-p12-9f3Kq!x7' });
  const admin = await token(jwtKey, [RUT], ['admin']);
  return {
    app,
    url,
    sim,
    simUrl,
    fixtures,
    jwtKey,
    admin,
    async close() {
      await app.close();
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const token = (key: Uint8Array, companies: string[], permissions: Permission[], dteTypes?: number[]): Promise<string> =>
  signToken({ sub: 'test', companies, permissions, ...(dteTypes ? { dteTypes } : {}) }, key);

/** JSON over real HTTP. */
export async function call(ctx: Ctx, method: string, path: string, opts: { token?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  const tok = opts.token === undefined ? ctx.admin : opts.token;
  if (tok !== null) headers.authorization = `Bearer ${tok}`;
  let body: string | undefined;
  if (opts.raw !== undefined) {
    body = opts.raw;
    headers['content-type'] ??= 'application/json';
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(`${ctx.url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Register the company, its certificate and a 33 CAF (1..100) from the simulator. */
export async function provision(ctx: Ctx, hasta = 100): Promise<void> {
  const c = await call(ctx, 'POST', '/api/v1/companies', { body: { rut: RUT, razon_social: 'EMPRESA DEMO TIMBRE SPA', nro_resol: 0, fch_resol: '2026-01-15' } });
  if (c.status !== 201) throw new Error(`company: ${c.status} ${c.text}`);
  const cert = await call(ctx, 'POST', '/api/v1/dte/certificate/upload', {
    body: { rut_company: RUT, p12_base64: ctx.fixtures.p12.toString('base64'), password: ctx.fixtures.p12Password },
  });
  if (cert.status !== 201) throw new Error(`certificate: ${cert.status} ${cert.text}`);
  const caf = await fetch(`${ctx.simUrl}/sim/caf`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ rutEmisor: RUT, tipoDte: 33, desde: 1, hasta }),
  }).then(async (r) => Buffer.from(await r.arrayBuffer()));
  const up = await fetch(`${ctx.url}/api/v1/dte/caf/upload`, { method: 'POST', headers: { authorization: `Bearer ${ctx.admin}`, 'content-type': 'application/xml' }, body: caf });
  if (up.status !== 201) throw new Error(`caf: ${up.status} ${await up.text()}`);
}

/** The 33 example without fecha_emision (the service dates it). */
export function doc33(): Record<string, unknown> {
  const d = example('33');
  delete d.fecha_emision;
  return d;
}

/** Ask the simulator for a CAF of `tipoDte` (desde..hasta) and upload it to the service. */
export async function uploadCaf(ctx: Ctx, tipoDte: number, desde: number, hasta: number, fechaAutorizacion?: string): Promise<void> {
  const caf = await fetch(`${ctx.simUrl}/sim/caf`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ rutEmisor: RUT, tipoDte, desde, hasta, ...(fechaAutorizacion ? { fechaAutorizacion } : {}) }),
  }).then(async (r) => {
    if (!r.ok) throw new Error(`sim caf ${tipoDte}: ${r.status} ${await r.text()}`);
    return Buffer.from(await r.arrayBuffer());
  });
  const up = await fetch(`${ctx.url}/api/v1/dte/caf/upload`, { method: 'POST', headers: { authorization: `Bearer ${ctx.admin}`, 'content-type': 'application/xml' }, body: caf });
  if (up.status !== 201) throw new Error(`caf ${tipoDte}: ${up.status} ${await up.text()}`);
}
