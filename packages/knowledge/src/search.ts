/**
 * BM25 search over the corpus (MiniSearch): titles weigh more than the text, `claves` (the words an
 * accountant types) a little more; prefix matching for stems, fuzzy matching (Levenshtein,
 * 20 % of the term) for typos. One index per corpus, built once (~80 entries: a few milliseconds).
 */
import MiniSearch from 'minisearch';
import { CORPUS, type KnowledgeEntry } from './corpus.js';
import { indexTerm, queryTerms, tokenize } from './text.js';

export interface SearchHit {
  id: string;
  titulo: string;
  texto: string;
  cita: string;
  url?: string;
  score: number;
}

export interface SearchOptions {
  /** At most this many hits (default 5, at most 50). */
  limit?: number;
}

/** Thrown for bad search input; `field` names the offending argument. */
export class KnowledgeError extends Error {
  constructor(
    readonly code: 'ERR_INPUT_INVALID' | 'ERR_CORPUS_INVALID',
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'KnowledgeError';
  }
}

export const MAX_QUERY_LENGTH = 4000;

export class KnowledgeBase {
  readonly size: number;
  private readonly index: MiniSearch<KnowledgeEntry>;
  private readonly byId = new Map<string, KnowledgeEntry>();

  constructor(entries: readonly KnowledgeEntry[] = CORPUS) {
    for (const [i, e] of entries.entries()) {
      if (!/^[a-z0-9]+(?:-[a-z0-9]+)*$/.test(e.id)) throw new KnowledgeError('ERR_CORPUS_INVALID', `entries[${i}].id`, `entry id "${e.id}" is not kebab-case`);
      if (this.byId.has(e.id)) throw new KnowledgeError('ERR_CORPUS_INVALID', `entries[${i}].id`, `duplicate entry id "${e.id}"`);
      if (!e.cita.trim()) throw new KnowledgeError('ERR_CORPUS_INVALID', `entries[${i}].cita`, `entry "${e.id}" has no cita`);
      this.byId.set(e.id, e);
    }
    this.size = entries.length;
    this.index = new MiniSearch<KnowledgeEntry>({
      idField: 'id',
      fields: ['titulo', 'texto', 'claves'],
      tokenize,
      processTerm: indexTerm,
      searchOptions: {
        boost: { titulo: 2, claves: 1.5 },
        processTerm: queryTerms,
        prefix: (term) => term.length >= 4,
        // Stems are short ("vencimiento" → "venc"): one edit from 4 letters on, 20 % from 6.
        fuzzy: (term) => (/\d/.test(term) || term.length < 4 ? false : term.length < 6 ? 1 : 0.2),
        weights: { fuzzy: 0.4, prefix: 0.6 },
        combineWith: 'OR',
      },
    });
    this.index.addAll([...entries]);
  }

  /** The entry with this id, or undefined. */
  get(id: string): KnowledgeEntry | undefined {
    return this.byId.get(id);
  }

  /** Best entries first; an empty or stop-word-only query finds nothing. */
  search(query: string, options: SearchOptions = {}): SearchHit[] {
    if (typeof query !== 'string') throw new KnowledgeError('ERR_INPUT_INVALID', 'query', 'query must be a string');
    if (query.length > MAX_QUERY_LENGTH) throw new KnowledgeError('ERR_INPUT_INVALID', 'query', `query is longer than ${MAX_QUERY_LENGTH} characters`);
    const limit = options.limit ?? 5;
    if (!Number.isInteger(limit) || limit < 1 || limit > 50) throw new KnowledgeError('ERR_INPUT_INVALID', 'limit', 'limit must be an integer from 1 to 50');
    return this.index
      .search(query)
      .slice(0, limit)
      .map((r) => {
        const e = this.byId.get(String(r.id));
        if (e === undefined) throw new Error(`index and corpus disagree on ${String(r.id)}`); // cannot happen: both built from `entries`
        return { id: e.id, titulo: e.titulo, texto: e.texto, cita: e.cita, ...(e.url !== undefined ? { url: e.url } : {}), score: Math.round(r.score * 1000) / 1000 };
      });
  }
}

let shared: KnowledgeBase | undefined;

/** Search the built-in corpus (the index is built on first use). */
export function search(query: string, options: SearchOptions = {}): SearchHit[] {
  shared ??= new KnowledgeBase();
  return shared.search(query, options);
}

/** The built-in corpus' entry with this id. */
export function getEntry(id: string): KnowledgeEntry | undefined {
  shared ??= new KnowledgeBase();
  return shared.get(id);
}
