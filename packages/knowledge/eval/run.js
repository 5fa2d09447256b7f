#!/usr/bin/env node
/**
 * Knowledge-base retrieval evaluation (for `npm run eval -- ai`, after `npm run build`): the
 * labelled questions of src/evaluate.ts against the built-in corpus. Prints recall@1/3/5 and MRR,
 * the misses, and last a JSON line; exits 1 when recall@3 is under 0.9.
 */
import { evaluate } from '../dist/index.js';

const t0 = Date.now();
const r = evaluate();
console.log(`knowledge retrieval, ${r.questions} labelled questions (${Date.now() - t0} ms incl. index build)`);
console.log(`  recall@1 ${r.recallAt1}   recall@3 ${r.recallAt3} (target ≥ 0.9)   recall@5 ${r.recallAt5}   MRR ${r.mrr}`);
for (const m of r.misses) console.log(`  miss: "${m.q}" expected ${m.expected.join('|')}, top 3: ${m.got.join(', ')}`);
const ok = r.recallAt3 >= 0.9;
console.log(JSON.stringify({ eval: 'knowledge', questions: r.questions, recallAt1: r.recallAt1, recallAt3: r.recallAt3, recallAt5: r.recallAt5, mrr: r.mrr, ok }));
process.exit(ok ? 0 : 1);
