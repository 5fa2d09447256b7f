/**
 * @timbre/knowledge — a searchable knowledge base of SII DTE rules, each entry with its citation,
 * for the AI service's chat assistant: BM25 over Spanish text (accents folded, light stemming,
 * synonyms, typo tolerance), and a labelled question set to measure retrieval.
 */
export { CORPUS, type KnowledgeEntry } from './corpus.js';
export { KnowledgeBase, KnowledgeError, MAX_QUERY_LENGTH, getEntry, search, type SearchHit, type SearchOptions } from './search.js';
export { EVAL_QUESTIONS, evaluate, type EvalReport, type LabelledQuestion } from './evaluate.js';
export { STOP_WORDS, SYNONYMS, fold, stem, tokenize } from './text.js';
