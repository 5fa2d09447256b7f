export { createSimulator, type Simulator } from './simulator.js';
export { siiSimulator, type SiiSimulatorPluginOptions, type AppContext } from './app.js';
export { SIM_DEFAULT_IDK, type SimulatorOptions, type CompanyConfig, type ResolvedConfig } from './config.js';
export { ManualClock, ShiftedClock, systemClock, type SimClock } from './clock.js';
export { FAULT_KINDS, type FaultKind, type FaultRule, type FaultRuleInput } from './faults.js';
export {
  CODES,
  ESTADOS_DTE,
  ESTADOS_ENVIO,
  RCV_ACCIONES,
  RCV_CODES,
  TOKEN_ESTADOS,
  TOKEN_QUERY_ERRORS,
  type EstadoDte,
  type EstadoEnvio,
  type EstadoFinal,
  type Nivel,
  type Observation,
  type RcvAccion,
  type RcvCode,
  type SiiCode,
} from './codes.js';
export {
  SimState,
  type CafRecord,
  type Channel,
  type DocumentoResult,
  type DteRecord,
  type EnvioRecord,
  type EstadoDocumento,
  type RcvEvent,
  type Referencia,
  type SeedRecord,
  type TokenRecord,
} from './state.js';
export { estadoEnvio, estadistica } from './envio.js';
