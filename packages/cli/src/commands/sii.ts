/**
 * `timbre sii token|send|status`: talk to the SII (or the simulator) with a certificate — for
 * scripts and diagnosis. The DTE service uses the same client.
 */
import { readFile } from 'node:fs/promises';
import { TimbreError, child, childText, loadPkcs12, parseXml } from '@timbre/dte';
import { SII_CODES, createSiiClient, describeCode, siiCodesToJson, type SiiClient, type SiiEnvironmentName } from '@timbre/sii';

export interface SiiCliOptions {
  cert: string;
  certPassword?: string;
  signerRut?: string;
  env: string;
  siiUrl?: string;
  json?: boolean;
  rut?: string;
  boleta?: boolean;
}

const ENVS: SiiEnvironmentName[] = ['sim', 'certificacion', 'produccion'];

async function client(o: SiiCliOptions): Promise<SiiClient> {
  if (!ENVS.includes(o.env as SiiEnvironmentName)) {
    throw new TimbreError('ERR_INPUT_INVALID', `--env must be one of ${ENVS.join(', ')}`, { field: '--env' });
  }
  const certificate = loadPkcs12(await readFile(o.cert), o.certPassword ?? process.env.TIMBRE_CERT_PASSWORD ?? '', {
    ...(o.signerRut ? { rut: o.signerRut } : {}),
  });
  return createSiiClient({ environment: o.env as SiiEnvironmentName, certificate, ...(o.siiUrl ? { siiUrl: o.siiUrl } : {}) });
}

const print = (o: SiiCliOptions, json: unknown, text: string) => process.stdout.write(o.json ? `${JSON.stringify(json, null, 2)}\n` : `${text}\n`);

export async function runSiiToken(o: SiiCliOptions): Promise<number> {
  const c = await client(o);
  const token = o.boleta ? await c.boleta.getToken() : await c.getToken();
  print(o, { token, environment: o.env }, token);
  return 0;
}

export async function runSiiSend(file: string, o: SiiCliOptions): Promise<number> {
  const bytes = await readFile(file);
  const doc = parseXml(bytes);
  const caratula = child(child(doc.root, 'SetDTE') ?? doc.root, 'Caratula');
  const rutEmisor = o.rut ?? (caratula ? childText(caratula, 'RutEmisor') : undefined);
  if (!rutEmisor) throw new TimbreError('ERR_INPUT_INVALID', `${file} has no SetDTE/Caratula/RutEmisor; give --rut`, { field: '--rut' });
  const c = await client(o);
  const useBoletaApi = o.boleta === true && doc.root.local === 'EnvioBOLETA';
  const r = useBoletaApi ? await c.boleta.sendEnvelope(bytes, { rutEmisor }) : await c.sendEnvelope(bytes, { rutEmisor });
  if (r.kind === 'received') {
    print(o, { ...r }, r.trackId);
    return 0;
  }
  if (r.kind === 'duplicate') {
    print(o, { ...r }, `${r.trackId ?? ''}\nduplicate upload: ${r.detail}`.trim());
    return r.trackId ? 0 : 1;
  }
  // The answer was lost: the SII may have the file. Never re-send blindly.
  const { error: _error, ...rest } = r;
  print(o, rest, `outcome unknown (${r.reason}): ${r.detail}\nCheck the status (timbre sii status) before sending again; a re-send within 900 s returns the first track id.`);
  return 1;
}

export async function runSiiStatus(trackId: string, o: SiiCliOptions): Promise<number> {
  if (!o.rut) throw new TimbreError('ERR_INPUT_INVALID', 'give the issuing company with --rut', { field: '--rut' });
  const c = await client(o);
  const e = o.boleta ? await c.boleta.getEstadoEnvio(trackId, o.rut) : await c.getEstUp(trackId, o.rut);
  const lines = [`${e.trackId} ${e.estado} ${e.glosa} (${e.outcome}${e.final ? ', final' : ''})`];
  for (const k of e.counts) lines.push(`  type ${k.tipoDte}: informados ${k.informados}, aceptados ${k.aceptados}, rechazados ${k.rechazados}, reparos ${k.reparos}`);
  print(o, e, lines.join('\n'));
  return 0;
}

/** `timbre sii codes [CODE]`: what an SII code means and how to fix it (the catalogue the AI chat reads too). */
export async function runSiiCodes(code: string | undefined, o: { json?: boolean }): Promise<number> {
  if (code === undefined) {
    if (o.json) process.stdout.write(`${siiCodesToJson()}\n`);
    else for (const c of SII_CODES) process.stdout.write(`${c.service.padEnd(13)} ${c.code.padEnd(12)} ${c.meaning}\n`);
    return 0;
  }
  const info = describeCode(code);
  if (!info) {
    process.stderr.write(`timbre: unknown SII code ${code}\n`);
    return 1;
  }
  process.stdout.write(o.json ? `${JSON.stringify(info, null, 2)}\n` : `${info.code} (${info.service}): ${info.meaning}\n  ${info.meaningEn}${info.fix ? `\n  fix: ${info.fix}` : ''}\n`);
  return 0;
}
