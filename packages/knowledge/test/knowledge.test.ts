import { describe, expect, it } from 'vitest';
import { CORPUS, EVAL_QUESTIONS, KnowledgeBase, KnowledgeError, evaluate, fold, getEntry, search, stem } from '../src/index.js';

const ids = (q: string, limit = 3) => search(q, { limit }).map((h) => h.id);

describe('corpus', () => {
  it('60–120 entries, unique kebab-case ids, every entry with a titulo, a texto and a cita', () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(60);
    expect(CORPUS.length).toBeLessThanOrEqual(120);
    expect(new Set(CORPUS.map((e) => e.id)).size).toBe(CORPUS.length);
    for (const e of CORPUS) {
      expect(e.id).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(e.titulo.length).toBeGreaterThan(3);
      expect(e.texto.length).toBeGreaterThan(40);
      expect(e.cita.length).toBeGreaterThan(5);
      if (e.url !== undefined) expect(e.url).toMatch(/^https:\/\/www\.sii\.cl\//);
    }
  });

  it('every labelled question points at entries that exist', () => {
    expect(EVAL_QUESTIONS.length).toBeGreaterThanOrEqual(40);
    for (const { ids: want } of EVAL_QUESTIONS) for (const id of want) expect(getEntry(id), id).toBeDefined();
  });

  it('a corpus with a duplicate id or no cita is refused, naming the entry', () => {
    const a = CORPUS[0]!;
    expect(() => new KnowledgeBase([a, a])).toThrow(expect.objectContaining({ code: 'ERR_CORPUS_INVALID', field: 'entries[1].id' }));
    expect(() => new KnowledgeBase([{ ...a, cita: ' ' }])).toThrow(expect.objectContaining({ field: 'entries[0].cita' }));
  });
});

describe('Spanish processing', () => {
  it('folds accents but keeps ñ; stems plural, gender and -ción forms together', () => {
    expect(fold('Crédito ÉXITO año')).toBe('credito exito año');
    expect(stem('anulación')).toBe(stem('anulada'));
    expect(stem('anular')).toBe(stem('anulado'));
    expect(stem('facturas')).toBe(stem('factura'));
    expect(stem('EPR'.toLowerCase())).toBe('epr'); // codes stay
    expect(stem('66666666-6')).toBe('66666666-6');
  });

  it('accents and case do not change the ranking', () => {
    expect(ids('nota de crédito corrige TEXTO')).toEqual(ids('nota de credito corrige texto'));
  });

  it('synonyms: NC ↔ nota de crédito, boleta ↔ 39, 46 ↔ factura de compra', () => {
    expect(ids('nc')).toContain('nota-credito-61');
    expect(ids('que es la 39')).toContain('boleta-39');
    expect(ids('documento 46 retencion')).toContain('factura-compra-46');
  });

  it('typos are tolerated (fuzzy)', () => {
    expect(ids('vensimiento del caf')).toContain('caf-vencimiento');
    expect(ids('guia de despasho')).toContain('guia-despacho-52');
  });

  it('hits carry the cita, scores descend, limit is honoured', () => {
    const hits = search('plazo para reclamar una factura', { limit: 4 });
    expect(hits).toHaveLength(4);
    expect(hits[0]!.id).toBe('plazo-reclamo-8-dias');
    expect(hits[0]!.cita).toMatch(/Ley 19\.983/);
    for (let i = 1; i < hits.length; i++) expect(hits[i]!.score).toBeLessThanOrEqual(hits[i - 1]!.score);
  });

  it('a query of stop words only finds nothing; bad input is a typed error naming the argument', () => {
    expect(search('que es el de la')).toEqual([]);
    expect(search('')).toEqual([]);
    expect(() => search('iva', { limit: 0 })).toThrow(KnowledgeError);
    expect(() => search('iva', { limit: 0 })).toThrow(expect.objectContaining({ code: 'ERR_INPUT_INVALID', field: 'limit' }));
    expect(() => search('x'.repeat(4001))).toThrow(expect.objectContaining({ field: 'query' }));
    expect(() => search(42 as unknown as string)).toThrow(expect.objectContaining({ field: 'query' }));
  });
});

describe('retrieval evaluation', () => {
  it('recall@3 ≥ 0.9 on the labelled questions (prints MRR)', () => {
    const t0 = performance.now();
    const r = evaluate();
    const ms = performance.now() - t0;
    console.log(
      `knowledge eval: ${r.questions} questions, recall@1 ${r.recallAt1}, recall@3 ${r.recallAt3}, recall@5 ${r.recallAt5}, MRR ${r.mrr} (${ms.toFixed(0)} ms incl. index build)`,
    );
    for (const m of r.misses) console.log(`  miss: "${m.q}" expected ${m.expected.join('|')} got ${m.got.join(', ')}`);
    expect(r.questions).toBe(EVAL_QUESTIONS.length);
    expect(r.recallAt3).toBeGreaterThanOrEqual(0.9);
    expect(r.mrr).toBeGreaterThan(0.75);
  });

  it('the evaluation can fail: a corpus without the answers scores low', () => {
    const kb = new KnowledgeBase(CORPUS.filter((e) => !e.id.startsWith('caf-') && !e.id.startsWith('estado-')));
    expect(evaluate(EVAL_QUESTIONS, kb).recallAt3).toBeLessThan(0.9);
  });
});
