/**
 * The whole path through the command line: `timbre sim` in its own process, a CAF issued by it,
 * `timbre dte build --envelope sii`, `timbre sii send`, `timbre sii status` until EPR.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, examplesDir, mustTimbre, timbre, tmpDir } from './helpers.js';

let sim: ChildProcess;
let url: string;
let dir: string;

beforeAll(async () => {
  dir = tmpDir('timbre-sii-cli-');
  mustTimbre(['fixtures', path.join(dir, 'fx'), '--tipos', '33']);
  sim = spawn(process.execPath, [cliPath, 'sim', '--port', '0', '--status-delay', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`simulator did not start: ${out}`)), 15_000);
    sim.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    sim.on('exit', (code) => reject(new Error(`simulator exited ${code}: ${out}`)));
  });
  const caf = await fetch(`${url}/sim/caf`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ rutEmisor: '76086428-5', tipoDte: 33, desde: 1, hasta: 50 }),
  });
  expect(caf.status).toBe(201);
  writeFileSync(path.join(dir, 'caf33.xml'), Buffer.from(await caf.arrayBuffer()));
});

afterAll(() => {
  sim?.kill('SIGTERM');
});

const certArgs = () => ['--cert', path.join(dir, 'fx', 'cert.p12'), '--cert-password', 'timbre'];

describe('timbre sim + timbre sii', () => {
  it('builds an EnvioDTE with a simulator CAF, sends it, and sees it accepted (EPR)', async () => {
    const env = path.join(dir, 'envio.xml');
    mustTimbre(['dte', 'build', path.join(examplesDir, '33.json'), ...certArgs(), '--caf', path.join(dir, 'caf33.xml'), '--envelope', 'sii', '--resolution', '0:2026-01-01', '-o', env]);
    const sent = timbre(['sii', 'send', env, '--env', 'sim', '--sii-url', url, ...certArgs(), '--json']);
    expect(sent.status, sent.stderr).toBe(0);
    const { trackId, kind } = JSON.parse(sent.stdout);
    expect(kind).toBe('received');
    expect(trackId).toMatch(/^\d+$/);

    let estado = '';
    for (let i = 0; i < 20 && estado !== 'EPR'; i++) {
      const st = timbre(['sii', 'status', trackId, '--rut', '76086428-5', '--env', 'sim', '--sii-url', url, ...certArgs(), '--json']);
      expect(st.status, st.stderr).toBe(0);
      const r = JSON.parse(st.stdout);
      estado = r.estado;
      if (estado === 'EPR') {
        expect(r.outcome).toBe('accepted');
        expect(r.counts).toEqual([{ tipoDte: 33, informados: 1, aceptados: 1, rechazados: 0, reparos: 0 }]);
      } else await new Promise((res) => setTimeout(res, 200));
    }
    expect(estado).toBe('EPR');

    // The same bytes again within 900 s: the SII's duplicate rule, with the first track id.
    const again = JSON.parse(timbre(['sii', 'send', env, '--env', 'sim', '--sii-url', url, ...certArgs(), '--json']).stdout);
    expect(again.kind).toBe('duplicate');
    // The STATUS 99 text carries the track id as a number: a leading zero may be gone.
    expect(Number(again.trackId)).toBe(Number(trackId));
  });

  it('an envelope with one byte changed is rejected by the simulator (RFR)', async () => {
    const env = path.join(dir, 'envio2.xml');
    mustTimbre(['dte', 'build', path.join(examplesDir, '33.json'), ...certArgs(), '--caf', path.join(dir, 'caf33.xml'), '--folio', '2', '--envelope', 'sii', '--resolution', '0:2026-01-01', '-o', env]);
    const text = readFileSync(env, 'latin1').replace('<NmbItem>Notebook', '<NmbItem>Notebuok');
    writeFileSync(env, Buffer.from(text, 'latin1'));
    const sent = JSON.parse(timbre(['sii', 'send', env, '--env', 'sim', '--sii-url', url, ...certArgs(), '--json']).stdout);
    let r: { estado: string; final: boolean } = { estado: '', final: false };
    for (let i = 0; i < 20 && !r.final; i++) {
      r = JSON.parse(timbre(['sii', 'status', sent.trackId, '--rut', '76086428-5', '--env', 'sim', '--sii-url', url, ...certArgs(), '--json']).stdout);
      if (!r.final) await new Promise((res) => setTimeout(res, 200));
    }
    expect(r.estado).toBe('RFR');
  });

  it('explains SII codes from the catalogue', () => {
    const r = timbre(['sii', 'codes', 'REF L[5]-3-758', '--json']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ code: 'REF-3-758', service: 'documento' });
    expect(timbre(['sii', 'codes', 'NOPE-9-999']).status).toBe(1);
    const all = JSON.parse(timbre(['sii', 'codes', '--json']).stdout);
    expect(all.codes.map((c: { code: string }) => c.code)).toEqual(expect.arrayContaining(['EPR', 'RCT', 'DOK', 'DTE-3-101', 'CAF-3-517']));
  });

  it('prints a token', () => {
    const t = timbre(['sii', 'token', '--env', 'sim', '--sii-url', url, ...certArgs()]);
    expect(t.status).toBe(0);
    expect(t.stdout.trim()).toMatch(/^\S{8,}$/);
  });
});
