/**
 * Spanish text processing for the search index: lower case, accents folded (accountants type
 * "credito" as often as "crédito"), stop words dropped, a light suffix stemmer so that "anular",
 * "anulada" and "anulación" meet, and query-side synonyms (NC ↔ nota de crédito, boleta ↔ 39).
 * Deliberately light: the corpus is small and a heavy stemmer (Snowball) merges words that mean
 * different things here ("folio" / "foliar" are fine, "factura" / "facturación" are fine, but codes
 * such as RCT or EPR must stay as they are).
 */

/** Lower case, accents folded (ñ kept: "año" is not "ano"). */
export function fold(text: string): string {
  return text
    .toLowerCase()
    .replace(/ñ/g, '\uE000')
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/\uE000/g, 'ñ');
}

/** Words that say nothing about the question ("¿qué pasa si…", "cómo hago para…"). */
export const STOP_WORDS: ReadonlySet<string> = new Set(
  (
    'a al algo algun alguna alguno ante antes aqui asi cada como con cual cuales cuando cuanto cuanta cuantos cuantas de del desde donde dos e el ella ellos en entre era es esa ese eso esta este esto estos estas fue ha hace hacer hago hay la las le les lo los mas me mi mis muy nada ni no nos o otra otro para pero poco por porque pq puede puedo pueden q que quien se sea segun ser si sin sobre solo son su sus tambien te tengo tiene tienen tu un una uno unos unas y ya xq hola favor ayuda debo debe deben hay pasa saber sirve significa quiere decir esto ese eso mio cuenta dice'
  ).split(' '),
);

/** Suffixes stripped, longest first; a stem keeps at least 4 characters. */
const SUFFIXES = [
  'aciones', 'iciones', 'amientos', 'imientos', 'amiento', 'imiento', 'acion', 'icion', 'mente',
  'adoras', 'adores', 'adora', 'ador', 'ados', 'adas', 'idos', 'idas', 'ado', 'ada', 'ido', 'ida',
  'ando', 'iendo', 'ar', 'er', 'ir', 'es', 'os', 'as', 's', 'o', 'a', 'e',
];

/** A light Spanish stemmer for one folded word; words with digits and short words stay as they are. */
export function stem(word: string): string {
  let w = fold(word);
  if (w.length <= 4 || /\d/.test(w)) return w;
  // Two passes: "anuladas" → "anulad" → "anul"; "facturaciones" → "facturacion" → "factur".
  for (let pass = 0; pass < 2; pass++) {
    const suffix = SUFFIXES.find((s) => w.endsWith(s) && w.length - s.length >= 4);
    if (suffix === undefined) break;
    w = w.slice(0, -suffix.length);
  }
  return w;
}

/**
 * Query synonyms (folded words → words added to the query). One direction is enough when the corpus
 * already spells both (entries say "nota de crédito (61)"); codes map to names and back.
 */
export const SYNONYMS: Readonly<Record<string, string>> = {
  nc: 'nota credito 61',
  nd: 'nota debito 56',
  '61': 'nota credito',
  '56': 'nota debito',
  '33': 'factura',
  '34': 'factura exenta',
  '39': 'boleta',
  '41': 'boleta exenta',
  '43': 'liquidacion factura',
  '46': 'factura compra',
  '52': 'guia despacho',
  '110': 'exportacion',
  boleta: '39',
  gd: 'guia despacho 52',
  guia: '52',
  fe: 'factura electronica',
  fac: 'factura',
  fact: 'factura',
  fc: 'factura compra 46',
  caf: 'folios',
  folios: 'caf',
  ted: 'timbre',
  timbre: 'ted',
  rcv: 'registro compras ventas',
  iecv: 'libro compras ventas',
  vence: 'vencimiento',
  vencio: 'vencimiento vencido',
  caduca: 'vencimiento',
  expira: 'vencimiento',
  dura: 'vigencia',
  vigencia: 'vencimiento',
  trackid: 'track',
  reclamo: 'reclamar',
  rechazar: 'reclamar',
  anular: 'anula',
  anulacion: 'anula',
  devolucion: 'nota credito',
  impuesto: 'iva',
  sobre: 'envio',
  caratula: 'envio',
  sii: '',
  dte: '',
};

/** Tokens of a text: letters and digits, with hyphenated codes kept whole (DTE-3-101, 66666666-6). */
export function tokenize(text: string): string[] {
  return fold(text).match(/[a-zñ0-9]+(?:-[a-zñ0-9]+)*/g) ?? [];
}

/** One token of a document → its index term (null: a stop word). */
export function indexTerm(token: string): string | null {
  const t = fold(token);
  if (t.length === 0 || STOP_WORDS.has(t)) return null;
  return stem(t);
}

/** One token of a query → its terms: itself and its synonyms, stemmed (null: a stop word). */
export function queryTerms(token: string): string[] | null {
  const t = fold(token);
  if (t.length === 0 || STOP_WORDS.has(t)) return null;
  const out = new Set<string>([stem(t)]);
  const extra = SYNONYMS[t];
  if (extra) for (const w of extra.split(' ')) if (!STOP_WORDS.has(w)) out.add(stem(w));
  return [...out];
}
