#!/usr/bin/env node
/**
 * `timbre`: the command line. Stable interface for users and scripts; exit codes: 0 success,
 * 1 verification failed / document rejected, 2 usage or input error.
 */
import { Command, CommanderError } from 'commander';
import { runFixtures } from './commands/fixtures.js';
import { runBuild } from './commands/build.js';
import { runVerify } from './commands/verify.js';
import { runParse } from './commands/parse.js';
import { runPdf } from './commands/pdf.js';
import { runSiiCodes, runSiiSend, runSiiStatus, runSiiToken } from './commands/sii.js';
import { runSim } from './commands/sim.js';
import { runServeDte } from './commands/serve.js';
import { runToken } from './commands/token.js';
import { reportError } from './output.js';

const program = new Command();
program
  .name('timbre')
  .description('Chilean electronic tax documents (DTE) for the SII: build, stamp, sign and verify')
  .version('0.1.0')
  .exitOverride();

program
  .command('fixtures')
  .description('generate test material: a certificate carrying a RUT, a fake "SII" key (DIR/trust/<IDK>.pem) and one CAF per document type — NOT valid for the real SII')
  .argument('<dir>', 'output directory')
  .option('--rut <rut>', 'issuer RUT of the CAFs', '76086428-5')
  .option('--razon-social <name>', 'issuer name written in the CAFs')
  .option('--signer-rut <rut>', 'RUT carried by the test certificate', '12345678-5')
  .option('--password <pw>', 'PKCS#12 password', 'timbre')
  .option('--folios <D:H>', 'folio range of every CAF', '1:1000')
  .option('--fecha <YYYY-MM-DD>', 'CAF authorization date (FA); default 30 days ago')
  .option('--tipos <list>', 'comma-separated document types; default all twelve')
  .action(async (dir: string, o) => {
    process.exitCode = await runFixtures(dir, o);
  });

const dte = program.command('dte').description('build, verify and parse DTEs');
dte
  .command('build')
  .description('build, stamp (TED) and sign one document or a list; with --envelope, a signed EnvioDTE (EnvioBOLETA for 39/41)')
  .argument('<input>', 'JSON file with one document or a list (see schemas/dte-input.schema.json); - for stdin')
  .requiredOption('--cert <p12>', 'PKCS#12 (.p12/.pfx) certificate of the signer')
  .option('--cert-password <pw>', 'certificate password (or TIMBRE_CERT_PASSWORD)')
  .option('--signer-rut <rut>', "the signer's RUT, for certificates that do not carry it")
  .requiredOption('--caf <file>', 'CAF file; repeat for several types or ranges', collect, [])
  .option('--envelope <target>', 'wrap in a signed envelope for the SII (sii) or for the buyer (receiver)')
  .option('--resolution <NUM:YYYY-MM-DD>', 'company authorization (NroResol:FchResol); 0 in certificación')
  .option('--now <iso>', 'signing time (TSTED, TmstFirma, TmstFirmaEnv); same input and --now give identical bytes')
  .option('--folio <n>', 'first folio to use when the input has none (default: the start of the CAF range)')
  .option('--trust <dir>', 'verify the CAFs against the SII public keys in DIR (<IDK>.pem)')
  .option('--non-latin1 <policy>', 'characters outside ISO-8859-1: replace (explicit table) or refuse', 'replace')
  .requiredOption('-o, --output <file>', 'output XML file (a directory for a list without --envelope)')
  .action(async (input: string, o) => {
    process.exitCode = await runBuild(input, o);
  });
dte
  .command('verify')
  .description('verify signed SII XML: XSD (with --schemas), every XMLDSig, every TED against its CAF, CAFs against trusted keys (with --trust), totals')
  .argument('<files...>', 'XML files')
  .option('--schemas <dir>', 'directory with the SII XSD files (or TIMBRE_SII_SCHEMAS)')
  .option('--trust <dir>', 'directory with the SII public keys, one PEM per key id: <IDK>.pem')
  .option('--json', 'print a JSON report')
  .action(async (files: string[], o) => {
    process.exitCode = await runVerify(files, o);
  });
dte
  .command('parse')
  .description('print the typed model of a DTE, EnvioDTE or EnvioBOLETA as JSON')
  .argument('<file>', 'XML file')
  .action(async (file: string) => {
    process.exitCode = await runParse(file);
  });

program
  .command('pdf')
  .description('the printed representation of a signed DTE, EnvioDTE or EnvioBOLETA: a PDF with the TED as PDF417 (one DTE per page, or per roll)')
  .argument('<file>', 'signed XML file; - for stdin')
  .requiredOption('-o, --output <file>', 'output PDF file')
  .option('--format <format>', 'letter | a4 | thermal (80 mm roll)', 'letter')
  .option('--cedible', 'add the cedible copy after the original (types 33, 34, 46, 52)')
  .option('--logo <file>', "the issuer's logo, PNG or JPEG")
  .option('--resolution <NUM:YYYY-MM-DD>', "the issuer's SII authorization (NroResol:FchResol); default: read from an envelope's carátula")
  .action(async (file: string, o) => {
    process.exitCode = await runPdf(file, o);
  });

const sii = program.command('sii').description('talk to the SII (certificación, producción) or the simulator');
const siiOptions = (c: Command) =>
  c
    .requiredOption('--cert <p12>', 'PKCS#12 certificate of the person authorized to send for the company')
    .option('--cert-password <pw>', 'certificate password (or TIMBRE_CERT_PASSWORD)')
    .option('--signer-rut <rut>', "the signer's RUT, for certificates that do not carry it")
    .option('--env <env>', 'sim | certificacion | produccion', 'sim')
    .option('--sii-url <url>', 'base URL of every SII service (default: the environment\'s hosts; sim: http://127.0.0.1:8090)')
    .option('--json', 'print JSON');
siiOptions(sii.command('token').description('print a token (for diagnosis)'))
  .option('--boleta', 'a boleta REST API token instead of a DTEWS one')
  .action(async (o) => {
    process.exitCode = await runSiiToken(o);
  });
siiOptions(sii.command('send').description('upload a signed EnvioDTE/EnvioBOLETA and print the track id').argument('<envelope>', 'signed envelope (XML)'))
  .option('--rut <rut>', 'issuing company (default: the carátula RutEmisor)')
  .option('--boleta', 'send an EnvioBOLETA through the boleta REST API (pangal/rahue) instead of DTEUpload')
  .action(async (file: string, o) => {
    process.exitCode = await runSiiSend(file, o);
  });
siiOptions(sii.command('status').description('print the status of an upload and its per-type counts').argument('<trackId>', 'track id'))
  .requiredOption('--rut <rut>', 'issuing company')
  .option('--boleta', 'ask the boleta REST API')
  .action(async (trackId: string, o) => {
    process.exitCode = await runSiiStatus(trackId, o);
  });

sii
  .command('codes')
  .description('the catalogue of SII codes (upload STATUS, envelope and DTE estados, rejection codes, RCV): meaning and fix')
  .argument('[code]', 'one code, e.g. RCT, DTE-3-101, "REF L[5]-3-758"')
  .option('--json', 'print JSON')
  .action(async (code: string | undefined, o: { json?: boolean }) => {
    process.exitCode = await runSiiCodes(code, o);
  });

program
  .command('sim')
  .description('run the SII simulator (a verifier speaking the SII wire formats) until interrupted')
  .option('--port <n>', 'port', '8090')
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .option('--schemas <dir>', 'validate uploads against the SII XSDs in DIR (or TIMBRE_SII_SCHEMAS)')
  .option('--trust <dir>', 'extra SII CAF keys it accepts (<IDK>.pem), beside its own')
  .option('--status-delay <ms>', 'time from REC to the final state', '1000')
  .action(async (o) => {
    process.exitCode = await runSim(o);
  });

const serve = program.command('serve').description('run a Timbre service in the foreground until interrupted');
serve
  .command('dte')
  .description('the DTE service (services/dte) with the environment of its README; embedded defaults: SQLite, master key and JWT secret under .tmp, created on first start')
  .option('--port <n>', 'port (or PORT; default 8001)')
  .option('--host <host>', 'address to listen on (or HOST; default 0.0.0.0)')
  .option('--database-url <url>', 'sqlite:PATH or postgres://… (or DATABASE_URL; default sqlite:.tmp/timbre.db)')
  .option('--sii-env <env>', 'sim | certificacion | produccion (or SII_ENV; default sim)')
  .option('--sii-url <url>', 'base URL of every SII service (or SII_URL; sim: http://127.0.0.1:8090)')
  .action(async (o) => {
    process.exitCode = await runServeDte(o);
  });

program
  .command('token')
  .description('print a bearer token (JWT) for the DTE service — for local use')
  .requiredOption('--company <rut>', 'company the token may act for')
  .option('--permissions <list>', 'comma-separated; default every permission but admin')
  .option('--dte-types <list>', 'comma-separated document types, e.g. 33,61; default every type')
  .option('--expires <time>', 'lifetime (jose syntax: 30m, 12h, 7d)', '12h')
  .option('--secret <s>', 'HS256 secret (≥ 32 bytes); default TIMBRE_JWT_SECRET, else .tmp/jwt.secret of `timbre serve dte`')
  .action(async (o) => {
    process.exitCode = await runToken(o);
  });

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? 0 : 2;
  } else {
    process.exitCode = reportError(e);
  }
}
