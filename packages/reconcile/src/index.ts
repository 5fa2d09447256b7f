/**
 * @timbre/reconcile: received DTEs against the ERP's expected documents (purchase orders, goods
 * receipts, vendor bills) and the RCV, by global assignment over scored candidates; pure.
 */
export { reconcile, assign, subsetSum } from './reconcile.js';
export { naiveReconcile, type BaselineLink } from './baseline.js';
export { hungarian } from './hungarian.js';
export { canonicalRut, dayNumber, docNumber, numberSimilarity, oneEditApart, pesos, textSimilarity, tokens } from './normalize.js';
export { dateScore, lineSimilarity, normExpected, normRcv, normReceived, rutRelation, scorePair, scoreRcv, type PairScore } from './score.js';
export { LIMITS, checkInput, checkOptions } from './validate.js';
export type * from './types.js';
