/** `timbre sim`: run the SII simulator in the foreground until SIGINT/SIGTERM. */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { idkFromFileName } from '@timbre/dte';
import { createSimulator } from '@timbre/sii-sim';

export interface SimCliOptions {
  port: string;
  host: string;
  schemas?: string;
  trust?: string;
  statusDelay: string;
}

export async function runSim(o: SimCliOptions): Promise<number> {
  const trustedKeys: { idk: number; pem: string }[] = [];
  if (o.trust) {
    for (const name of await readdir(o.trust)) {
      const idk = idkFromFileName(name);
      if (idk !== undefined) trustedKeys.push({ idk, pem: await readFile(path.join(o.trust, name), 'utf8') });
    }
  }
  const schemasDir = o.schemas ?? process.env.TIMBRE_SII_SCHEMAS;
  const sim = createSimulator({
    host: o.host,
    port: Number(o.port),
    statusDelayMs: Number(o.statusDelay),
    ...(schemasDir ? { schemasDir } : {}),
    ...(trustedKeys.length ? { trustedKeys } : {}),
  });
  const url = await sim.start(Number(o.port));
  process.stdout.write(
    [
      `SII simulator listening on ${url}`,
      `  its SII key: IDK ${sim.trust.idk} (GET ${url}/sim/trust); CAFs for test companies: POST ${url}/sim/caf`,
      `  XSD validation: ${schemasDir ? schemasDir : 'off (no --schemas / TIMBRE_SII_SCHEMAS)'}`,
      `  point the client at it: timbre sii send ENVIO.xml --env sim --sii-url ${url} --cert …`,
      '',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await sim.close();
  return 0;
}
