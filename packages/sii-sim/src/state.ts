/**
 * The simulator's memory: what the SII would have in its databases. Plain data, inspectable by
 * tests through `simulator.state`; the rules live in the modules that use it.
 */
import type { KeyObject } from 'node:crypto';
import type { EstadoFinal, Observation, RcvAccion } from './codes.js';
import type { CompanyConfig } from './config.js';
import type { FaultRule } from './faults.js';

export type Channel = 'dtews' | 'boleta';

export interface SeedRecord {
  value: string;
  channel: Channel;
  createdAt: number;
}

export interface TokenRecord {
  value: string;
  channel: Channel;
  /** RUT of the certificate holder who authenticated. */
  rut: string;
  subject?: string;
  createdAt: number;
  expiresAt: number;
}

export type EstadoDocumento = 'ACEPTADO' | 'REPARO' | 'RECHAZADO';

/** The result for one DTE of an envío (what the SII's result e-mail lists per document). */
export interface DocumentoResult {
  tipoDte?: number;
  folio?: number;
  rutEmisor?: string;
  rutRecep?: string;
  fchEmis?: string;
  mntTotal?: number;
  estado: EstadoDocumento;
  errores: Observation[];
}

export interface EnvioRecord {
  /** 10 digits, may start with 0 (DTEUpload); boleta REST track ids never do. */
  trackId: string;
  channel: Channel;
  receivedAt: number;
  rutSender: string;
  rutCompany: string;
  fileName: string;
  sha256: string;
  size: number;
  /** Root element of the file (EnvioDTE, EnvioBOLETA). */
  root: string;
  /** Where processing ends; the visible state moves towards it over `statusDelayMs`. */
  final: EstadoFinal;
  /** Envelope-level errors (schema, signature, carátula). */
  errores: Observation[];
  documentos: DocumentoResult[];
  /** Remarks about the processing itself (e.g. XSD skipped). */
  notas: string[];
  /** Times this exact file was uploaded (1 + the STATUS 99 refusals). */
  intentos: number;
  lastAttemptAt: number;
}

export interface Referencia {
  tpoDocRef: string;
  folioRef: string;
  codRef?: number;
  rutOtr?: string;
  indGlobal?: boolean;
}

export interface RcvEvent {
  codigo: RcvAccion | 'NCA' | 'ENC';
  descripcion: string;
  rutResponsable: string;
  fecha: number;
}

/** A DTE the SII received and did not reject. */
export interface DteRecord {
  rutEmisor: string;
  tipoDte: number;
  folio: number;
  rutRecep: string;
  fchEmis: string;
  mntTotal: number;
  /** RE|TD|F|FE|RR|MNT|RSR|IT1 of the TED, to tell a re-send from a folio reuse. */
  fingerprint: string;
  estado: 'ACEPTADO' | 'REPARO';
  trackId: string;
  receivedAt: number;
  /** When the envío reaches EPR: before that, queries do not see the document. */
  visibleAt: number;
  referencias: Referencia[];
  eventos: RcvEvent[];
}

/** A folio range the SII authorized (issued by /sim/caf, or seen in an accepted trusted CAF). */
export interface CafRecord {
  rutEmisor: string;
  tipoDte: number;
  desde: number;
  hasta: number;
  fechaAutorizacion: string;
  idk: number;
  issuedAt: number;
  source: 'sim' | 'upload';
}

export const dteKey = (rutEmisor: string, tipoDte: number, folio: number): string => `${rutEmisor}|${tipoDte}|${folio}`;

export class SimState {
  readonly seeds = new Map<string, SeedRecord>();
  readonly tokens = new Map<string, TokenRecord>();
  readonly envios = new Map<string, EnvioRecord>();
  /** sha256 of uploaded file → track id of its first upload. */
  readonly uploadsByHash = new Map<string, string>();
  readonly dtes = new Map<string, DteRecord>();
  readonly cafs: CafRecord[] = [];
  readonly companies = new Map<string, CompanyConfig>();
  readonly faults: FaultRule[] = [];
  /** Extra trusted SII keys by IDK (the simulator's own key is always trusted). */
  readonly trustedKeys = new Map<number, KeyObject>();
  /** Counter for NUM_ATENCION. */
  atencion = 0;

  constructor(
    /** The simulator's own SII key. */
    readonly sii: { idk: number; privateKey: KeyObject; publicKey: KeyObject },
  ) {}

  /** All SII keys that verify CAFs: the simulator's own plus the configured ones. */
  allTrustedKeys(): Map<number, KeyObject> {
    const m = new Map(this.trustedKeys);
    m.set(this.sii.idk, this.sii.publicKey);
    return m;
  }

  /** Forget everything the SII learned (envíos, documents, CAFs, tokens, faults); keys and company settings stay. */
  reset(): void {
    this.seeds.clear();
    this.tokens.clear();
    this.envios.clear();
    this.uploadsByHash.clear();
    this.dtes.clear();
    this.cafs.length = 0;
    this.faults.length = 0;
    this.atencion = 0;
  }

  dte(rutEmisor: string, tipoDte: number, folio: number): DteRecord | undefined {
    return this.dtes.get(dteKey(rutEmisor, tipoDte, folio));
  }

  /** Is the folio inside a range the SII authorized? */
  folioAutorizado(rutEmisor: string, tipoDte: number, folio: number): boolean {
    return this.cafs.some((c) => c.rutEmisor === rutEmisor && c.tipoDte === tipoDte && folio >= c.desde && folio <= c.hasta);
  }
}
