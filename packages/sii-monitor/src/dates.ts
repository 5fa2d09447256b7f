/**
 * Spanish dates as the SII writes them: "20 de Diciembre del 2024", "1° de marzo de 2025",
 * "1º de julio de 2025", "12/03/2024", "12-03-2024", "12.03.2024" → ISO `YYYY-MM-DD`.
 */
const MONTHS: Readonly<Record<string, number>> = {
  enero: 1, febrero: 2, marzo: 3, abril: 4, mayo: 5, junio: 6, julio: 7, agosto: 8,
  septiembre: 9, setiembre: 9, octubre: 10, noviembre: 11, diciembre: 12,
};

const pad = (n: number): string => String(n).padStart(2, '0');

function iso(y: number, m: number, d: number): string | undefined {
  const t = new Date(Date.UTC(y, m - 1, d));
  if (t.getUTCFullYear() !== y || t.getUTCMonth() !== m - 1 || t.getUTCDate() !== d) return undefined;
  return `${y}-${pad(m)}-${pad(d)}`;
}

/** Lower-cased, accents and ordinal marks folded, whitespace collapsed: text the regexes can trust. */
export function fold(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[°º]/g, '')
    .replace(/\s+/g, ' ')
    .toLowerCase()
    .trim();
}

const LONG = /(\d{1,2})\s+de\s+([a-z]+)\s+(?:de|del)\s+(?:ano\s+)?(\d{4})/;
const SHORT = /\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\b/;

/** The first date in `text` as ISO, or undefined. */
export function findDate(text: string): string | undefined {
  const f = fold(text);
  const long = LONG.exec(f);
  const short = SHORT.exec(f);
  // Whichever comes first in the text is the date the sentence is about.
  if (long && (!short || long.index <= short.index)) {
    const month = MONTHS[long[2] ?? ''];
    if (month) return iso(Number(long[3]), month, Number(long[1]));
  }
  if (short) return iso(Number(short[3]), Number(short[2]), Number(short[1]));
  return undefined;
}

/** All long-form dates with the index where each starts (for "a contar del …" look-ups). */
export function datesWithIndex(folded: string): Array<{ index: number; iso: string }> {
  const out: Array<{ index: number; iso: string }> = [];
  const re = new RegExp(LONG.source, 'g');
  for (let m = re.exec(folded); m; m = re.exec(folded)) {
    const month = MONTHS[m[2] ?? ''];
    const d = month ? iso(Number(m[3]), month, Number(m[1])) : undefined;
    if (d) out.push({ index: m.index, iso: d });
  }
  return out;
}
