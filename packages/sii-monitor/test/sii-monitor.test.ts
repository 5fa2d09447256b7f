import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  SiiMonitor,
  SiiMonitorError,
  banda,
  classify,
  decodeHtml,
  extractVigencia,
  findDate,
  parseCircularesIndex,
  parseNoticias,
  parseResolucionesIndex,
  circularesIndexUrl,
  noticiasYearUrl,
  type SiiPublication,
} from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixture = (name: string): Buffer => readFileSync(join(here, 'fixtures', name));
const B = 'https://www.sii.cl';
const C = `${B}/normativa_legislacion/circulares`;

describe('parseCircularesIndex', () => {
  it('reads every row of the 2024 index (Latin-1, raw N° bytes, relative/./absolute links, Word twins, spacer rows)', () => {
    const items = parseCircularesIndex(fixture('circulares-2024.htm'), { year: 2024, baseUrl: B });
    expect(items.map((i) => [i.numero, i.fecha, i.url])).toEqual([
      ['62', '2024-12-27', `${C}/2024/circu62.pdf`],
      ['61', '2024-12-20', `${C}/2024/circu61.pdf`],
      ['60', '2024-12-12', `${C}/2024/circu60.pdf`],
      ['58', '2024-11-29', `${C}/2024/circu58.pdf`],
      ['55', '2024-11-08', `${C}/2024/circu55.pdf`],
      ['41', '2024-08-01', `${C}/2024/circu41.pdf`],
      ['12', '2024-03-15', `${C}/2024/circu12.pdf`],
    ]);
    expect(items[1]).toEqual({
      tipo: 'circular',
      numero: '61',
      anio: 2024,
      fecha: '2024-12-20',
      titulo: 'Circular N° 61 del 20 de Diciembre del 2024',
      url: `${C}/2024/circu61.pdf`,
      materia: 'Instruye sobre la obligación de emitir boleta electrónica y el comprobante de pago electrónico a contar del 1° de marzo de 2025.',
    });
    // "(modificada)", the Word link and the "Fuente:" line are not part of the materia.
    expect(items[3]?.materia).toBe('Modifica el formato XML de la factura electrónica y de la guía de despacho electrónica: nuevos campos de referencia.');
    // Latin-1 bytes: Ñ, tildes.
    expect(items[4]?.materia).toBe('Imparte instrucciones sobre el impuesto territorial de los bienes raíces no agrícolas de la comuna de Ñuñoa.');
    expect(items[5]?.titulo).toBe('Circular N° 41 del 1° de Agosto del 2024');
  });

  it('reads the 2025 index (N&ordm; entity) and the later version with exactly 2 more', () => {
    const v1 = parseCircularesIndex(fixture('circulares-2025.htm'), { year: 2025, baseUrl: B });
    expect(v1.map((i) => i.numero)).toEqual(['9', '7', '3', '1']);
    expect(v1[0]?.titulo).toBe('Circular Nº 9 del 14 de Febrero del 2025');
    const v2 = parseCircularesIndex(fixture('circulares-2025-v2.htm'), { year: 2025, baseUrl: B });
    expect(v2.map((i) => i.numero)).toEqual(['14', '11', '9', '7', '3', '1']);
    expect(v2[0]).toMatchObject({ fecha: '2025-03-07', url: `${C}/2025/circu14.pdf` });
  });

  it('a changed layout is ERR_SII_PAGE_LAYOUT naming the URL, not "nothing new"', () => {
    const err = (() => {
      try {
        parseCircularesIndex(fixture('circulares-2025-broken.htm'), { year: 2025, baseUrl: B });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(SiiMonitorError);
    expect(err).toMatchObject({ code: 'ERR_SII_PAGE_LAYOUT', url: `${C}/2025/indcir2025.htm` });
  });

  it('bad input is a typed error naming the field', () => {
    expect(() => parseCircularesIndex('<p></p>', { year: 24.5, baseUrl: B })).toThrow(expect.objectContaining({ code: 'ERR_INPUT_INVALID', field: 'year' }));
    expect(() => parseCircularesIndex('<p></p>', { year: 2024, baseUrl: 'www.sii.cl' })).toThrow(expect.objectContaining({ field: 'baseUrl' }));
    expect(() => parseCircularesIndex(42 as unknown as string, { year: 2024, baseUrl: B })).toThrow(expect.objectContaining({ field: 'html' }));
  });
});

describe('parseResolucionesIndex', () => {
  it('reads paragraph entries (N&deg;, .htm and .pdf links)', () => {
    const items = parseResolucionesIndex(fixture('resoluciones-2024.htm'), { year: 2024, baseUrl: B });
    expect(items.map((i) => [i.numero, i.fecha, i.url.split('/').pop()])).toEqual([
      ['130', '2024-12-30', 'reso130.pdf'],
      ['118', '2024-12-02', 'reso118.pdf'],
      ['97', '2024-10-15', 'reso97.pdf'],
      ['64', '2024-06-20', 'reso64.htm'],
      ['22', '2024-03-04', 'reso22.pdf'],
    ]);
    expect(items[0]).toMatchObject({
      tipo: 'resolucion',
      titulo: 'Resolución Ex. SII N° 130 del 30 de Diciembre del 2024',
      materia: 'Establece nuevo formato del Libro de Compras y Ventas electrónico y deroga la Resolución Ex. N° 45 de 2003. Entra en vigencia el 1 de marzo de 2025.',
    });
    expect(items[3]?.materia).toBe('Designa a funcionarios de la Dirección Regional de Concepción como ministros de fe.');
    expect(parseResolucionesIndex(fixture('resoluciones-2025.htm'), { year: 2025, baseUrl: B }).map((i) => i.numero)).toEqual(['18', '6']);
  });

  it('a circulares page is not a resoluciones page', () => {
    expect(() => parseResolucionesIndex(fixture('circulares-2024.htm'), { year: 2024, baseUrl: B })).toThrow(expect.objectContaining({ code: 'ERR_SII_PAGE_LAYOUT' }));
  });
});

describe('parseNoticias', () => {
  it('reads the news page (UTF-8; both date styles; absolute and site-relative links; the pager is no news)', () => {
    const items = parseNoticias(fixture('noticias.htm'), { baseUrl: B });
    expect(items.map((i) => [i.numero, i.fecha, i.anio])).toEqual([
      ['200225noti01pcr', '2025-02-20', 2025],
      ['140225noti02jo', '2025-02-14', 2025],
      ['050225noti01ms', '2025-02-05', 2025],
      ['290125noti01aav', '2025-01-29', 2025],
    ]);
    expect(items[0]).toEqual({
      tipo: 'noticia',
      numero: '200225noti01pcr',
      anio: 2025,
      fecha: '2025-02-20',
      titulo: 'SII recuerda que desde el 1 de marzo será obligatorio el nuevo formato de la factura electrónica',
      url: `${B}/noticias/2025/200225noti01pcr.htm`,
      materia: 'Los contribuyentes deberán actualizar sus sistemas de facturación.',
    });
  });

  it('falls back to the date in the file name when the block has none', () => {
    const [item] = parseNoticias('<ul><li><a href="/noticias/2025/030325noti01xx.htm">Título</a></li></ul>', { baseUrl: B });
    expect(item?.fecha).toBe('2025-03-03');
  });
});

describe('real page shapes (structure of www.sii.cl per era; content invented)', () => {
  const C26 = `${C}/2026`;
  it('2013+ indexes: an <h5> link per entry, materia in the following <p>; cross-references inside a materia are not entries', () => {
    const items = parseCircularesIndex(fixture('circulares-2026-h5.htm'), { year: 2026, baseUrl: B });
    expect(items.map((i) => [i.numero, i.fecha, i.url, i.materia])).toEqual([
      ['31', '2026-06-18', `${C26}/circu31.pdf`, 'Modifica la Circular N° 12 del 2 de Marzo del 2026 sobre emisión de la guía de despacho electrónica.'],
      // "- " before the materia, the "Ver documento" twin and the "Fuente:" line are gone.
      ['30', '2026-06-10', `${C26}/circu30.pdf`, 'Valor de la Unidad de Fomento para los días comprendidos entre el 10 de junio y el 9 de julio de 2026.'],
      // Its own entry, not the cross-reference in N° 31's materia; the 2003 circular it cites is no 2026 entry.
      ['12', '2026-03-02', `${C26}/circu12.pdf`, 'Imparte instrucciones sobre la guía de despacho electrónica en traslados internos. Deja sin efecto la Circular N° 47 del 5 de Septiembre del 2003.'],
    ]);
    expect(items[0]?.titulo).toBe('Circular N° 31 del 18 de Junio del 2026');
    const resos = parseResolucionesIndex(fixture('resoluciones-2026-h5.htm'), { year: 2026, baseUrl: B });
    expect(resos.map((i) => [i.numero, i.titulo, i.materia])).toEqual([
      // ": " before the materia is dropped.
      ['106', 'Resolución Exenta SII N° 106 del 21 de Agosto del 2026', 'Establece el formato del registro de reclamos de documentos tributarios electrónicos en el RCV.'],
      ['105', 'Resolución Exenta SII N° 105 del 20 de Agosto del 2026', 'Complementa la nómina de Grandes Contribuyentes.'],
    ]);
    expect(classify(resos[0]!)).toMatchObject({ relevante_dte: true });
  });

  it('up to 2012: one flat block, entries separated by <br>, under /documentos/circulares/ (undeclared Latin-1)', () => {
    const url = circularesIndexUrl(B, 2011);
    expect(url).toBe(`${B}/documentos/circulares/2011/indcir2011.htm`);
    const items = parseCircularesIndex(fixture('circulares-2011-legacy.htm'), { year: 2011, baseUrl: B });
    expect(items.map((i) => [i.numero, i.fecha, i.url, i.materia])).toEqual([
      ['54', '2011-12-23', `${B}/documentos/circulares/2011/circu54.htm`, 'Tabla de Cálculos de Reajustes, Intereses y Multas Enero 2012.'],
      ['50', '2011-11-18', `${B}/documentos/circulares/2011/circu50.pdf`, 'Aclara procedimiento de cálculo del crédito fiscal para exportadores.'],
      ['47', '2011-11-03', `${B}/documentos/circulares/2011/circu47.htm`, 'Imparte instrucciones sobre la factura electrónica de exportación.'],
    ]);
    expect(circularesIndexUrl(B, 1977)).toBe(`${B}/documentos/circulares/1977/indcir77.htm`);
    expect(circularesIndexUrl(B, 2013)).toBe(`${C}/2013/indcir2013.htm`);
  });

  it("a year's news index: the list is the arrayIndice script array (both date styles, HTML and JS escapes)", () => {
    const page = noticiasYearUrl(B, 2025);
    expect(page).toBe(`${B}/noticias/2025/index.html`);
    const items = parseNoticias(fixture('noticias-2025-index.html'), { baseUrl: B, pageUrl: page });
    expect(items.map((i) => [i.numero, i.fecha, i.url, i.titulo])).toEqual([
      ['310725noti01pcr', '2025-07-31', `${B}/noticias/2025/310725noti01pcr.htm`, 'SII publica nuevo formato de la guía de despacho electrónica'],
      ['250725noti02jo', '2025-07-25', `${B}/noticias/2025/250725noti02jo.htm`, "Director del SII participa en encuentro con gremios de la región de 'Los Ríos'"],
      ['100725noti01aav', '2025-07-10', `${B}/noticias/2025/100725noti01aav.htm`, 'Operación Renta: SII informa devoluciones pagadas'],
    ]);
    // The page's own URL as baseUrl is the same page.
    expect(parseNoticias(fixture('noticias-2025-index.html'), { baseUrl: page }).map((i) => i.url)).toEqual(items.map((i) => i.url));
    // The older `new Array(…)` spelling; brackets and commas inside a headline do not split it.
    const arr = parseNoticias(`<script>var arrayIndice = new Array(new Array('010226noti01xx', '01/02/2026', 'Título [con] corchetes, y comas', 'a.jpg'));</script>`, { baseUrl: noticiasYearUrl(B, 2026) });
    expect(arr.map((i) => [i.numero, i.fecha, i.titulo, i.url])).toEqual([['010226noti01xx', '2026-02-01', 'Título [con] corchetes, y comas', `${B}/noticias/2026/010226noti01xx.htm`]]);
    expect(() => parseNoticias('<script>var arrayIndice = [];</script>', { baseUrl: page })).toThrow(expect.objectContaining({ code: 'ERR_SII_PAGE_LAYOUT', url: page }));
  });

  it('baseUrl may be the page itself: relative links resolve against it, as in a browser', () => {
    const mirror = 'http://127.0.0.1:8080/normativa_legislacion/circulares/2024/indcir2024.htm';
    const fromPage = parseCircularesIndex(fixture('circulares-2024.htm'), { year: 2024, baseUrl: mirror });
    expect(fromPage.map((i) => i.url.replace('http://127.0.0.1:8080', ''))).toEqual(
      parseCircularesIndex(fixture('circulares-2024.htm'), { year: 2024, baseUrl: B }).map((i) => i.url.replace(B, '')),
    );
    expect(fromPage[0]?.url).toBe('http://127.0.0.1:8080/normativa_legislacion/circulares/2024/circu62.pdf');
    // A site root with a trailing slash, or a mirror prefix, is still a root.
    expect(parseCircularesIndex(fixture('circulares-2024.htm'), { year: 2024, baseUrl: `${B}/` })[0]?.url).toBe(`${C}/2024/circu62.pdf`);
    expect(parseCircularesIndex(fixture('circulares-2024.htm'), { year: 2024, baseUrl: 'http://m/sii' })[0]?.url).toBe('http://m/sii/normativa_legislacion/circulares/2024/circu62.pdf');
    // A layout error names the page that was read.
    expect(() => parseCircularesIndex(fixture('circulares-2025-broken.htm'), { year: 2025, baseUrl: 'http://m/x/indcir2025.htm' })).toThrow(expect.objectContaining({ code: 'ERR_SII_PAGE_LAYOUT', url: 'http://m/x/indcir2025.htm' }));
    expect(() => parseCircularesIndex('<p></p>', { year: 2024, baseUrl: B, pageUrl: 'indcir2024.htm' })).toThrow(expect.objectContaining({ code: 'ERR_INPUT_INVALID', field: 'pageUrl' }));
  });

  it('title and materia variants of every era', () => {
    const reso = (html: string, year: number) => parseResolucionesIndex(html, { year, baseUrl: B }).map((i) => [i.numero, i.fecha, i.materia]);
    expect(reso('<p><a href="reso45.htm">Resolución Ex. SII N° 45 del 01 de Septiembre del 2003</a><br>MATERIA : Establece normas de operación de los documentos tributarios electrónicos.</p>', 2003)).toEqual([
      ['45', '2003-09-01', 'Establece normas de operación de los documentos tributarios electrónicos.'],
    ]);
    expect(
      reso(
        '<ul><li><a href="reso12.pdf">Resolución Exenta N°12 de 10/02/2024</a> - Establece el comprobante de pago electrónico.</li>' +
          '<li><a href="reso9.pdf">RESOLUCION EXENTA SII N°9 DEL 23 DE ENERO DEL 2024</a>: Designa ministros de fe.</li>' +
          '<li><a href="reso1280.pdf">Res. Ex. N° 1.280 del 5 de Enero del 2024</a></li></ul>',
        2024,
      ),
    ).toEqual([
      ['12', '2024-02-10', 'Establece el comprobante de pago electrónico.'],
      ['9', '2024-01-23', 'Designa ministros de fe.'],
      ['1280', '2024-01-05', undefined],
    ]);
    const [c162] = parseCircularesIndex('<p><a href="circu162.htm">Circular N°162 del 27 de Diciembre de 1977</a> (dejada sin efecto)<br>Exigencia de exhibir la cédula RUT.</p>', { year: 1977, baseUrl: B });
    expect(c162).toMatchObject({ numero: '162', fecha: '1977-12-27', url: `${B}/documentos/circulares/1977/circu162.htm`, materia: 'Exigencia de exhibir la cédula RUT.' });
  });

  it('the monitor reads a 2013+ index end to end', async () => {
    const s = site({ '/normativa_legislacion/circulares/2026/indcir2026.htm': [html('circulares-2026-h5.htm')], '/normativa_legislacion/resoluciones/2026/res_ind2026.htm': [html('resoluciones-2026-h5.htm')], '/noticias/': [html('noticias.htm')] });
    const run = await new SiiMonitor({ fetch: s.fetch, backoffMs: 1 }).run({ now: new Date('2026-09-01T12:00:00Z'), store: store(new Set()) });
    expect(run.errors).toEqual([]);
    expect(run.items.filter((i) => i.tipo !== 'noticia').map((i) => `${i.tipo}:${i.anio}:${i.numero}`)).toEqual(['circular:2026:31', 'circular:2026:30', 'circular:2026:12', 'resolucion:2026:106', 'resolucion:2026:105']);
  });
});

describe('charset', () => {
  it('Latin-1 declared in a meta, UTF-8 meta, BOM, header wins, undeclared Latin-1 and undeclared UTF-8', () => {
    const latin = Buffer.from('<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"><p>Resolución Ñuñoa</p>', 'latin1');
    expect(decodeHtml(latin)).toContain('Resolución Ñuñoa');
    expect(decodeHtml(Buffer.from('<meta charset="utf-8"><p>año</p>'))).toContain('año');
    expect(decodeHtml(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('<p>guía</p>')]))).toBe('<p>guía</p>');
    expect(decodeHtml(Buffer.from('<p>guía</p>', 'latin1'), 'text/html; charset=ISO-8859-1')).toBe('<p>guía</p>');
    expect(decodeHtml(Buffer.from('<p>guía</p>', 'latin1'))).toBe('<p>guía</p>');
    expect(decodeHtml(Buffer.from('<p>guía</p>', 'utf8'))).toBe('<p>guía</p>');
  });
});

describe('dates and vigencia', () => {
  it('Spanish dates', () => {
    expect(findDate('Circular N° 3 del 10 de Enero del 2025')).toBe('2025-01-10');
    expect(findDate('1º de julio de 2025')).toBe('2025-07-01');
    expect(findDate('publicada el 12/03/2024')).toBe('2024-03-12');
    expect(findDate('31 de febrero de 2025')).toBeUndefined();
  });
  it('vigencia from the text, else the publication date', () => {
    expect(extractVigencia('obligatoria a contar del 1° de enero de 2025')).toBe('2025-01-01');
    expect(extractVigencia('Rige desde el 1 de julio de 2025.')).toBe('2025-07-01');
    expect(extractVigencia('Valor de la UF entre el 10 de enero y el 9 de febrero de 2025')).toBeUndefined();
    expect(classify({ tipo: 'circular', fecha: '2025-01-03', titulo: 'Circular N° 1', materia: 'Valor de la UF' }).vigencia).toBe('2025-01-03');
  });
});

describe('classify', () => {
  it('fixture items: DTE format changes high, routine tables low', () => {
    const items = parseCircularesIndex(fixture('circulares-2024.htm'), { year: 2024, baseUrl: B });
    const byNum = new Map(items.map((i) => [i.numero, classify(i)]));
    expect(byNum.get('58')).toMatchObject({ relevante_dte: true, vigencia: '2024-11-29' });
    expect(byNum.get('58')?.prioridad).toBeGreaterThanOrEqual(8);
    expect(byNum.get('58')?.impacto).toContain('formato XML');
    expect(byNum.get('61')).toMatchObject({ relevante_dte: true, vigencia: '2025-03-01' });
    expect(byNum.get('60')).toMatchObject({ relevante_dte: false });
    expect(byNum.get('60')?.prioridad).toBeLessThanOrEqual(3);
    expect(byNum.get('55')?.relevante_dte).toBe(false);
  });

  it('accuracy on the hand-labelled set ≥ 0.9 for relevance and for the priority band', () => {
    const set = JSON.parse(readFileSync(join(here, 'labelled.json'), 'utf8')) as {
      items: Array<{ tipo: SiiPublication['tipo']; titulo: string; relevante: boolean; banda: 'alta' | 'media' | 'baja' }>;
    };
    expect(set.items.length).toBeGreaterThanOrEqual(60);
    let rel = 0;
    let band = 0;
    for (const it of set.items) {
      const c = classify({ tipo: it.tipo, fecha: '2025-01-01', titulo: it.titulo });
      if (c.relevante_dte === it.relevante) rel++;
      if (banda(c.prioridad) === it.banda) band++;
      expect(c.prioridad).toBeGreaterThanOrEqual(1);
      expect(c.prioridad).toBeLessThanOrEqual(10);
    }
    const relevance = rel / set.items.length;
    const bands = band / set.items.length;
    console.log(`classifier on ${set.items.length} labelled titles: relevance ${relevance.toFixed(3)}, band ${bands.toFixed(3)}`);
    expect(relevance).toBeGreaterThanOrEqual(0.9);
    expect(bands).toBeGreaterThanOrEqual(0.9);
  });

  it('held-out set (labelled before the classifier was read): relevance ≥ 0.9, band ≥ 0.85, precision and recall of relevante_dte ≥ 0.9', () => {
    const set = JSON.parse(readFileSync(join(here, 'heldout.json'), 'utf8')) as {
      items: Array<{ tipo: SiiPublication['tipo']; titulo: string; materia?: string; relevante: boolean; banda: 'alta' | 'media' | 'baja'; razon: string }>;
    };
    expect(set.items.length).toBeGreaterThanOrEqual(80);
    let rel = 0;
    let band = 0;
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (const it of set.items) {
      expect(it.razon).toBeTruthy();
      const c = classify({ tipo: it.tipo, fecha: '2025-01-01', titulo: it.titulo, materia: it.materia });
      if (c.relevante_dte === it.relevante) rel++;
      if (banda(c.prioridad) === it.banda) band++;
      if (c.relevante_dte && it.relevante) tp++;
      if (c.relevante_dte && !it.relevante) fp++;
      if (!c.relevante_dte && it.relevante) fn++;
    }
    const n = set.items.length;
    const figures = { relevance: rel / n, band: band / n, precision: tp / (tp + fp), recall: tp / (tp + fn) };
    console.log(`classifier on ${n} held-out items: ${Object.entries(figures).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ')}`);
    expect(figures.relevance).toBeGreaterThanOrEqual(0.9);
    expect(figures.band).toBeGreaterThanOrEqual(0.85);
    expect(figures.precision).toBeGreaterThanOrEqual(0.9);
    expect(figures.recall).toBeGreaterThanOrEqual(0.9);
  });
});

/** A fake of the SII site at the fetch boundary: real Response objects, per-URL scripted answers. */
function site(pages: Record<string, Array<() => Response>>): { fetch: (url: string) => Promise<Response>; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    fetch: async (url: string) => {
      calls.push(url);
      const script = pages[new URL(url).pathname];
      if (!script) return new Response('no', { status: 404 });
      const next = script.length > 1 ? script.shift()! : script[0]!;
      return next();
    },
  };
}
const html = (name: string) => () => new Response(fixture(name), { status: 200, headers: { 'content-type': 'text/html' } });
const store = (known: Set<string>) => ({ unseen: async (items: readonly SiiPublication[]) => items.filter((i) => !known.has(`${i.tipo}:${i.anio}:${i.numero}`)) });

describe('SiiMonitor', () => {
  const PATHS = {
    '/normativa_legislacion/circulares/2025/indcir2025.htm': [html('circulares-2025.htm')],
    '/normativa_legislacion/resoluciones/2025/res_ind2025.htm': [html('resoluciones-2025.htm')],
    '/noticias/': [html('noticias.htm')],
  };

  it('run: current year only outside January; diff against the store', async () => {
    const s = site({ ...PATHS });
    const m = new SiiMonitor({ fetch: s.fetch, backoffMs: 1 });
    const run = await m.run({ now: new Date('2025-03-10T12:00:00Z'), store: store(new Set(['circular:2025:9', 'noticia:2025:140225noti02jo'])) });
    expect(run.errors).toEqual([]);
    expect(run.items).toHaveLength(4 + 2 + 4);
    expect(run.newItems.map((i) => `${i.tipo}:${i.numero}`).sort()).toEqual(
      ['circular:7', 'circular:3', 'circular:1', 'resolucion:18', 'resolucion:6', 'noticia:200225noti01pcr', 'noticia:050225noti01ms', 'noticia:290125noti01aav'].sort(),
    );
    expect(s.calls).toHaveLength(3);
  });

  it("reads the year's news index too; an item on both news pages is one item", async () => {
    const s = site({ ...PATHS, '/noticias/': [html('noticias-2025-index.html')], '/noticias/2025/index.html': [html('noticias-2025-index.html')] });
    const run = await new SiiMonitor({ fetch: s.fetch, backoffMs: 1, newsYearIndex: true }).run({ now: new Date('2025-08-10T12:00:00Z'), store: store(new Set()) });
    expect(run.errors).toEqual([]);
    expect(run.newItems.filter((i) => i.tipo === 'noticia').map((i) => i.numero)).toEqual(['310725noti01pcr', '250725noti02jo', '100725noti01aav']);
    expect(run.sources.filter((x) => x.source === 'noticias').map((x) => [x.url, x.items])).toEqual([
      [`${B}/noticias/`, 3],
      [`${B}/noticias/2025/index.html`, 0],
    ]);
  });

  it('in January also last year; the new year index may still be missing (404 is not an error then)', async () => {
    const s = site({
      '/normativa_legislacion/circulares/2024/indcir2024.htm': [html('circulares-2024.htm')],
      '/normativa_legislacion/resoluciones/2024/res_ind2024.htm': [html('resoluciones-2024.htm')],
      '/noticias/': [html('noticias.htm')],
    });
    const run = await new SiiMonitor({ fetch: s.fetch, backoffMs: 1 }).run({ now: new Date('2025-01-05T15:00:00Z'), store: store(new Set()) });
    expect(run.errors).toEqual([]);
    expect(run.items).toHaveLength(7 + 5 + 4);
    expect(s.calls).toHaveLength(5);
    // With the year news indexes: two more pages, both 404 here, tolerated.
    const y = site({
      '/normativa_legislacion/circulares/2024/indcir2024.htm': [html('circulares-2024.htm')],
      '/normativa_legislacion/resoluciones/2024/res_ind2024.htm': [html('resoluciones-2024.htm')],
      '/noticias/': [html('noticias.htm')],
    });
    const withYear = await new SiiMonitor({ fetch: y.fetch, backoffMs: 1, newsYearIndex: true }).run({ now: new Date('2025-01-05T15:00:00Z'), store: store(new Set()) });
    expect(withYear.errors).toEqual([]);
    expect(y.calls.filter((c) => c.includes('/noticias/20')).sort()).toEqual([`${B}/noticias/2024/index.html`, `${B}/noticias/2025/index.html`]);
  });

  it('retries 5xx with backoff, then gives up with ERR_SII_UNAVAILABLE; the other pages still count', async () => {
    const s = site({ ...PATHS, '/normativa_legislacion/resoluciones/2025/res_ind2025.htm': [() => new Response('down', { status: 503 })] });
    const run = await new SiiMonitor({ fetch: s.fetch, backoffMs: 1, retries: 2 }).run({ now: new Date('2025-03-10T12:00:00Z'), store: store(new Set()) });
    expect(run.errors.map((e) => e.code)).toEqual(['ERR_SII_UNAVAILABLE']);
    expect(run.sources.find((x) => x.source === 'resoluciones')?.error?.url).toContain('res_ind2025.htm');
    expect(s.calls.filter((c) => c.includes('res_ind'))).toHaveLength(3);
    expect(run.newItems).toHaveLength(8);
  });

  it('a 503 then a 200 is one page, not an error', async () => {
    const s = site({ ...PATHS, '/noticias/': [() => new Response('busy', { status: 502 }), html('noticias.htm')] });
    const run = await new SiiMonitor({ fetch: s.fetch, backoffMs: 1 }).run({ now: new Date('2025-03-10T12:00:00Z'), store: store(new Set()) });
    expect(run.errors).toEqual([]);
    expect(run.items.filter((i) => i.tipo === 'noticia')).toHaveLength(4);
  });

  it('timeouts, oversized bodies and layout drift are typed errors', async () => {
    const slow = (_url: string, init: { signal: AbortSignal }) =>
      new Promise<Response>((_, reject) => init.signal.addEventListener('abort', () => reject(init.signal.reason)));
    await expect(new SiiMonitor({ fetch: slow, timeoutMs: 20, retries: 1, backoffMs: 1 }).fetchPage(`${B}/noticias/`)).rejects.toMatchObject({ code: 'ERR_SII_UNAVAILABLE' });
    const big = async () => new Response('x'.repeat(5000), { status: 200 });
    await expect(new SiiMonitor({ fetch: big, maxBytes: 1000 }).fetchPage(`${B}/noticias/`)).rejects.toMatchObject({ code: 'ERR_SII_PAGE_TOO_LARGE' });
    const s = site({ ...PATHS, '/normativa_legislacion/circulares/2025/indcir2025.htm': [html('circulares-2025-broken.htm')] });
    const run = await new SiiMonitor({ fetch: s.fetch }).run({ now: new Date('2025-03-10T12:00:00Z'), store: store(new Set()) });
    expect(run.errors.map((e) => [e.code, e.url])).toEqual([['ERR_SII_PAGE_LAYOUT', `${C}/2025/indcir2025.htm`]]);
  });

  it('sends a User-Agent; rejects a bad baseUrl', async () => {
    let ua: string | undefined;
    const f = async (_url: string, init: { headers: Record<string, string> }) => {
      ua = init.headers['user-agent'];
      return new Response(fixture('noticias.htm'), { status: 200 });
    };
    await new SiiMonitor({ fetch: f }).fetchPage(`${B}/noticias/`);
    expect(ua).toMatch(/^Timbre-SII-Monitor\//);
    expect(() => new SiiMonitor({ baseUrl: 'ftp://x' })).toThrow(expect.objectContaining({ field: 'baseUrl' }));
  });
});
