/**
 * Per-company signing material: the active certificate (decrypted once, cached by certificate id)
 * and one SII client per certificate, plus parsed CAFs cached by id. The clients' tokens live in
 * `config.sii.tokenCache` (buildApp sets it to app.siiTokens, shared through Redis when configured).
 */
import { loadPkcs12, parseCaf, type Caf, type Certificado } from '@timbre/dte';
import { createSiiClient, type SiiClient } from '@timbre/sii';
import { loadActiveCertificate, loadCafXml, type Database, type SecretBox } from '@timbre/store';
import type { Kysely } from 'kysely';
import type { AppConfig } from '../config.js';
import { ServiceError } from '../problems.js';

export interface CompanySigner {
  certificateId: number;
  certificado: Certificado;
  sii: SiiClient;
}

export class SignerCache {
  private readonly signers = new Map<number, CompanySigner>();
  private readonly cafs = new Map<number, Caf>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly box: SecretBox,
    private readonly config: AppConfig,
  ) {}

  async forCompany(rutCompany: string, at: Date): Promise<CompanySigner> {
    const cert = await loadActiveCertificate(this.db, this.box, rutCompany, at);
    if (cert === undefined) {
      throw new ServiceError('ERR_CERT_MISSING', 409, `company ${rutCompany} has no valid signing certificate; upload one at POST /api/v1/dte/certificate/upload`);
    }
    const cached = this.signers.get(cert.id);
    if (cached) return cached;
    const certificado = loadPkcs12(cert.p12, cert.password, { now: at });
    const sii = createSiiClient({
      environment: this.config.sii.environment,
      ...(this.config.sii.url ? { siiUrl: this.config.sii.url } : {}),
      certificate: certificado,
      ...(this.config.sii.timeoutMs !== undefined ? { timeoutMs: this.config.sii.timeoutMs } : {}),
      ...(this.config.sii.maxAttempts !== undefined ? { maxAttempts: this.config.sii.maxAttempts } : {}),
      // One TokenCache for the service (app.siiTokens, through Redis when configured): one SII login per certificate for every instance.
      ...(this.config.sii.tokenCache ? { tokenCache: this.config.sii.tokenCache } : {}),
    });
    const signer = { certificateId: cert.id, certificado, sii };
    this.signers.set(cert.id, signer);
    return signer;
  }

  async caf(cafId: number): Promise<Caf> {
    const cached = this.cafs.get(cafId);
    if (cached) return cached;
    const xml = await loadCafXml(this.db, this.box, cafId);
    if (xml === undefined) throw new Error(`CAF ${cafId} vanished`);
    const caf = parseCaf(xml);
    this.cafs.set(cafId, caf);
    return caf;
  }
}
