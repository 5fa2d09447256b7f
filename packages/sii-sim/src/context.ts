import type { IdSource, SimClock } from './clock.js';
import type { ResolvedConfig } from './config.js';
import type { SimState } from './state.js';
import type { XsdValidator } from './xsd.js';

/** What every part of the simulator works with. */
export interface SimContext {
  state: SimState;
  config: ResolvedConfig;
  clock: SimClock;
  ids: IdSource;
  xsd: XsdValidator;
}
