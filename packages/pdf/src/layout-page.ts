/**
 * Letter and A4 pages (they differ only in size): issuer and red box on every page, receptor and
 * transport/customs blocks on the first, the detail and the other tables flowing over as many
 * pages as needed (table headers repeated, "Página n de m"), the totals right after them, and on
 * the last page, pinned to the bottom, the timbre (≥ 2 cm from the left edge, as LibreDTE) and, in
 * the cedible copy, the acuse de recibo.
 */
import { Ops, type Rgb, type Stamp } from './canvas.js';
import type { PreparedImage } from './logo.js';
import { fit, joinOrSplit, widthOf, winAnsi, wrap, type FontName } from './text.js';
import type { Column, DocView, Field, FieldRow, SimpleTable } from './view.js';

export const PAGE_SIZES = { letter: [612, 792], a4: [595.28, 841.89] } as const;

const MARGIN = 42.52; // 1.5 cm
const TIMBRE_LEFT = 56.7; // 2 cm: LibreDTE's minimum left margin of the timbre
const FOOTER = 14; // room for "Página n de m" above the bottom margin

const GRAY_TEXT: Rgb = [0.3, 0.3, 0.3];
const LABEL: Rgb = [0.25, 0.25, 0.25];
const RULE: Rgb = [0.62, 0.62, 0.62];
const LIGHT_RULE: Rgb = [0.85, 0.85, 0.85];
const BAND: Rgb = [0.92, 0.92, 0.92];

const R = 'Helvetica' as FontName;
const B = 'Helvetica-Bold' as FontName;

export const ACUSE_TEXT =
  'El acuse de recibo que se declara en este acto, de acuerdo a lo dispuesto en la letra b) del Art. 4°, y la letra c) del Art. 5° de la Ley 19.983, acredita que la entrega de mercaderías o servicio(s) prestado(s) ha(n) sido recibido(s).';

interface Geo {
  w: number;
  h: number;
  left: number;
  right: number;
  cw: number;
}

/** A piece of the flowing part of the document. */
interface Block {
  height: number;
  draw(ops: Ops, y: number): void;
  /** Never end a page right after this block (table titles and header rows). */
  keepWithNext?: boolean;
  /** Drawn first when this block starts a new page (the header row of its table). */
  header?: Block;
}

export interface PageInput {
  view: DocView;
  /** The timbre barcode; absent when the document has no TED. */
  timbre?: Stamp;
  logo?: PreparedImage;
  cedible: boolean;
  size: readonly [number, number];
}

/** The pages of one copy of the document, each as a display list. */
export function layoutPages(input: PageInput): Ops[] {
  const [w, h] = input.size;
  const g: Geo = { w, h, left: MARGIN, right: w - MARGIN, cw: w - 2 * MARGIN };
  const { view } = input;

  const headerH = drawHeader(undefined, view, g, input.logo);
  const firstTop = MARGIN + headerH + firstPageBlocks(undefined, view, g, MARGIN + headerH);
  const contTop = MARGIN + headerH;
  const limit = h - MARGIN - FOOTER;
  const lastLimit = limit - timbreZone(undefined, input, g, 0) - 12;

  const blocks = flowBlocks(view, g);
  blocks.push(totalsBlock(view, g));
  const suffix = new Array<number>(blocks.length + 1).fill(0);
  for (let i = blocks.length - 1; i >= 0; i--) suffix[i] = (suffix[i + 1] as number) + (blocks[i] as Block).height;

  // Greedy placement; stop as soon as the rest fits above the bottom zone of the last page.
  const pages: Array<Array<{ block: Block; y: number }>> = [[]];
  let y = firstTop;
  const newPage = (b: Block): void => {
    pages.push([]);
    y = contTop;
    if (b.header && b.header !== b) {
      pages[pages.length - 1]?.push({ block: b.header, y });
      y += b.header.height;
    }
  };
  for (let i = 0; i < blocks.length; i++) {
    const b = blocks[i] as Block;
    const current = pages[pages.length - 1] as Array<{ block: Block; y: number }>;
    const restFits = y + (suffix[i] as number) <= lastLimit;
    if (!restFits) {
      // A title or header row travels with what follows it (chained: title → header → first row).
      let need = b.height;
      for (let j = i; blocks[j]?.keepWithNext && blocks[j + 1]; j++) need += (blocks[j + 1] as Block).height;
      const isLast = i === blocks.length - 1;
      // The first page counts as used even before its first block: its receptor and transport data.
      const used = current.length > 0 || y > contTop;
      if (used && (y + need > limit || (isLast && y + b.height > lastLimit))) newPage(b);
    }
    (pages[pages.length - 1] as Array<{ block: Block; y: number }>).push({ block: b, y });
    y += b.height;
  }
  if (y > lastLimit) {
    pages.push([]);
  }

  const out: Ops[] = [];
  pages.forEach((placed, i) => {
    const ops = new Ops();
    drawHeader(ops, view, g, input.logo);
    if (i === 0) firstPageBlocks(ops, view, g, MARGIN + headerH);
    for (const p of placed) p.block.draw(ops, p.y);
    if (i === pages.length - 1) timbreZone(ops, input, g, limit);
    if (pages.length > 1) ops.textCenter(`Página ${i + 1} de ${pages.length}`, w / 2, h - MARGIN + 2, { size: 7.5, color: GRAY_TEXT });
    out.push(ops);
  });
  return out;
}

// ------------------------------------------------------------------ header

/** Issuer, logo and the coloured box; returns the header height (drawn only when `ops` is given). */
function drawHeader(ops: Ops | undefined, v: DocView, g: Geo, logo: PreparedImage | undefined): number {
  const boxW = 190;
  const boxX = g.right - boxW;
  const top = MARGIN;

  // Box: R.U.T., document name, folio.
  const inner = boxW - 16;
  const nameLines = wrap(winAnsi(v.title), B, 12, inner, 3);
  const boxLines = [`R.U.T.: ${v.rutEmisor}`, ...nameLines, `N° ${v.folio}`].map((s) => fit(winAnsi(s), B, 12, inner));
  const lh = 15.5;
  const boxH = 12 + boxLines.length * lh + 6;
  if (ops) {
    ops.rect(boxX, top, boxW, boxH, { stroke: v.boxColor, lineWidth: 2.2 });
    boxLines.forEach((s, i) => ops.textCenter(s, boxX + boxW / 2, top + 12 + i * lh, { font: B, size: 12, color: v.boxColor }));
  }
  const unit = v.siiUnit ? `S.I.I. - ${v.siiUnit}` : 'S.I.I.';
  if (ops) ops.textCenter(fit(winAnsi(unit), B, 10, boxW + 20), boxX + boxW / 2, top + boxH + 5, { font: B, size: 10, color: v.boxColor });
  const rightBottom = top + boxH + 5 + 12;

  // Logo, then the issuer's data beside it.
  let x = g.left;
  let logoBottom = top;
  if (logo) {
    const s = Math.min(99 / logo.width, 57 / logo.height);
    const lw = logo.width * s;
    const lhh = logo.height * s;
    if (ops) ops.image('Logo', g.left, top, lw, lhh);
    x += lw + 10;
    logoBottom = top + lhh;
  }
  const tw = boxX - 14 - x;
  let y = top;
  for (const s of wrap(winAnsi(v.emisor.razonSocial), B, 13, tw, 2)) {
    if (ops) ops.text(s, x, y, { font: B, size: 13 });
    y += 15;
  }
  y += 1;
  for (const s of wrap(winAnsi(v.emisor.giro), R, 8.5, tw, 3)) {
    if (ops) ops.text(s, x, y, { size: 8.5 });
    y += 10.5;
  }
  for (const group of v.emisor.lines) {
    for (const s of joinOrSplit(group, R, 8, tw)) {
      if (ops) ops.text(s, x, y, { size: 8, color: GRAY_TEXT });
      y += 10;
    }
  }
  return Math.max(y, logoBottom, rightBottom) - top + 10;
}

// ------------------------------------------------------------------ first page: receptor, transport, customs

function firstPageBlocks(ops: Ops | undefined, v: DocView, g: Geo, top: number): number {
  let y = top;
  // Receptor (left) and document data (right) in one framed block.
  const pad = 6;
  if (v.receptor || v.docInfo.length > 0) {
    const leftW = v.receptor ? g.cw * 0.6 : 0;
    const rightX = g.left + leftW;
    const rightW = g.cw - leftW;
    const lh = v.receptor ? fieldRows(ops, v.receptor, g.left + pad, y + pad, leftW - 2 * pad) : 0;
    const rows = v.docInfo.map((f) => [f]);
    const rh = v.receptor ? fieldRows(ops, rows, rightX + pad, y + pad, rightW - 2 * pad) : fieldGrid(ops, v.docInfo, g.left + pad, y + pad, g.cw - 2 * pad);
    const bh = Math.max(lh, rh) + 2 * pad - 2;
    if (ops) {
      ops.rect(g.left, y, g.cw, bh, { stroke: RULE, lineWidth: 0.6 });
      if (v.receptor) ops.line(rightX, y, rightX, y + bh, LIGHT_RULE, 0.6);
    }
    y += bh + 8;
  }
  if (v.transporte.length > 0) y += section(ops, 'Transporte', v.transporte, g, y) + 8;
  if (v.aduana.length > 0) y += section(ops, 'Datos de exportación (Aduana)', v.aduana, g, y) + 8;
  return y - top;
}

/** A titled band with field rows, two fields per row splitting the width. */
function section(ops: Ops | undefined, title: string, rows: FieldRow[], g: Geo, y: number): number {
  const bandH = 13;
  if (ops) {
    ops.rect(g.left, y, g.cw, bandH, { fill: BAND });
    ops.text(title.toLocaleUpperCase('es-CL'), g.left + 6, y + 3, { font: B, size: 7.5, color: LABEL });
  }
  const h = fieldRows(ops, rows, g.left + 6, y + bandH + 4, g.cw - 12, true);
  if (ops) ops.line(g.left, y + bandH + h + 6, g.right, y + bandH + h + 6, LIGHT_RULE, 0.6);
  return bandH + h + 6;
}

/** Rows of "Label: value" (values wrap). `split`: a row of two fields gets two equal halves. */
function fieldRows(ops: Ops | undefined, rows: FieldRow[], x: number, y: number, w: number, split = false): number {
  const labelSize = 7.5;
  const valueSize = 8.5;
  const lineH = 10.5;
  let yy = y;
  // Labels of single-field rows share one column so values line up.
  const singleLabelW = Math.max(0, ...rows.filter((r) => r.length === 1 || !split).map((r) => widthOf(winAnsi(`${r[0]?.label ?? ''}:`), B, labelSize))) + 5;
  for (const row of rows) {
    const n = row.length;
    const colW = split || n > 1 ? w / n : w;
    let rowH = lineH;
    row.forEach((f, i) => {
      const cx = x + i * colW;
      const lw = n === 1 || !split ? Math.min(singleLabelW, colW * 0.45) : widthOf(winAnsi(`${f.label}:`), B, labelSize) + 5;
      const valueLines = wrap(winAnsi(f.value), f.label === 'Señor(es)' ? B : R, valueSize, colW - lw - 4, 4);
      if (ops) {
        ops.text(`${f.label}:`, cx, yy + 1, { font: B, size: labelSize, color: LABEL });
        valueLines.forEach((s, k) => ops.text(s, cx + lw, yy + k * lineH, { font: f.label === 'Señor(es)' ? B : R, size: valueSize }));
      }
      rowH = Math.max(rowH, valueLines.length * lineH);
    });
    yy += rowH + 1;
  }
  return yy - y;
}

/** Fields laid out two per row (used when there is no receptor column). */
function fieldGrid(ops: Ops | undefined, fields: Field[], x: number, y: number, w: number): number {
  const rows: FieldRow[] = [];
  for (let i = 0; i < fields.length; i += 2) rows.push(fields.slice(i, i + 2));
  return fieldRows(ops, rows, x, y, w, true);
}

// ------------------------------------------------------------------ flowing tables

interface Col {
  title: string;
  w: number;
  align: 'left' | 'right';
}

function flowBlocks(v: DocView, g: Geo): Block[] {
  const blocks: Block[] = [];
  const cols = detailColumns(v, g);
  const header = headerBlock(cols, g);
  blocks.push({ ...header, keepWithNext: true });
  const headerRef = blocks[0] as Block;
  headerRef.header = headerRef;
  const pad = 3;
  const nameSize = 8;
  const detSize = 7.5;
  for (const it of v.items) {
    const cells: Record<string, string> = {
      codigo: it.codigo,
      tipoDoc: it.tipoDoc,
      cantidad: it.cantidad,
      unidad: it.unidad,
      precio: it.precio,
      descuento: it.descuento,
      monto: it.monto,
    };
    const descCol = cols.find((c) => c.key === 'descripcion') as Col & { key: string; x: number };
    const nameLines = wrap(winAnsi(it.nombre), B, nameSize, descCol.w - 2 * pad, 4);
    const detLines = it.detalle.flatMap((d) => wrap(winAnsi(d, true), R, detSize, descCol.w - 2 * pad, 30));
    const small = (key: string, size: number) => {
      const c = cols.find((k) => k.key === key);
      return c ? wrap(winAnsi(cells[key] ?? ''), R, size, c.w - 2 * pad, 3) : [];
    };
    const codeLines = small('codigo', 7.5);
    const tipoLines = small('tipoDoc', 7.5);
    const lines = Math.max(1, codeLines.length, tipoLines.length);
    const textH = Math.max(nameLines.length * 9.8 + detLines.length * 9, lines * 9.5);
    const height = textH + 2 * pad + 1;
    blocks.push({
      height,
      header: headerRef,
      draw(ops, y) {
        for (const c of cols) {
          const cx = c.x + pad;
          if (c.key === 'descripcion') {
            let yy = y + pad;
            for (const s of nameLines) {
              ops.text(s, cx, yy, { font: B, size: nameSize });
              yy += 9.8;
            }
            for (const s of detLines) {
              ops.text(s, cx, yy, { size: detSize, color: GRAY_TEXT });
              yy += 9;
            }
          } else if (c.key === 'codigo' || c.key === 'tipoDoc') {
            (c.key === 'codigo' ? codeLines : tipoLines).forEach((s, k) => ops.text(s, cx, y + pad + k * 9.5, { size: 7.5 }));
          } else {
            const s = fit(winAnsi(cells[c.key] ?? ''), c.key === 'monto' ? B : R, 8, c.w - 2 * pad);
            if (c.align === 'right') ops.textRight(s, c.x + c.w - pad, y + pad, { size: 8, font: c.key === 'monto' ? B : R });
            else ops.text(s, cx, y + pad, { size: 8 });
          }
        }
        ops.line(g.left, y + height, g.right, y + height, LIGHT_RULE, 0.5);
      },
    });
  }
  if (v.items.length === 0) {
    blocks.push({ height: 16, header: headerRef, draw: (ops, y) => ops.text('(sin líneas de detalle)', g.left + pad, y + 4, { size: 8, color: GRAY_TEXT }) });
  }
  for (const t of v.tables) blocks.push(...tableBlocks(t, g));
  return blocks;
}

function detailColumns(v: DocView, g: Geo): Array<Col & { key: string; x: number }> {
  const spec: Array<Col & { key: string }> = [];
  if (v.columns.codigo) spec.push({ key: 'codigo', title: 'Código', w: 62, align: 'left' });
  if (v.columns.tipoDoc) spec.push({ key: 'tipoDoc', title: 'Documento', w: 82, align: 'left' });
  spec.push({ key: 'descripcion', title: 'Descripción', w: 0, align: 'left' });
  spec.push({ key: 'cantidad', title: 'Cantidad', w: 52, align: 'right' });
  if (v.columns.unidad) spec.push({ key: 'unidad', title: 'Unidad', w: 38, align: 'left' });
  spec.push({ key: 'precio', title: 'P. unitario', w: 66, align: 'right' });
  if (v.columns.descuento) spec.push({ key: 'descuento', title: 'Desc./Rec.', w: 50, align: 'right' });
  spec.push({ key: 'monto', title: 'Monto', w: 72, align: 'right' });
  const fixed = spec.reduce((s, c) => s + c.w, 0);
  let x = g.left;
  return spec.map((c) => {
    const col = { ...c, w: c.key === 'descripcion' ? g.cw - fixed : c.w, x };
    x += col.w;
    return col;
  });
}

function headerBlock(cols: Array<Col & { x: number }>, g: Geo): Block {
  const h = 15;
  return {
    height: h,
    draw(ops, y) {
      ops.rect(g.left, y, g.cw, h, { fill: BAND });
      ops.line(g.left, y + h, g.right, y + h, RULE, 0.6);
      for (const c of cols) {
        const s = fit(winAnsi(c.title), B, 7.5, c.w - 6);
        if (c.align === 'right') ops.textRight(s, c.x + c.w - 3, y + 4, { font: B, size: 7.5, color: LABEL });
        else ops.text(s, c.x + 3, y + 4, { font: B, size: 7.5, color: LABEL });
      }
    },
  };
}

/** A secondary table: a title, a header row, then its rows (wrapping). */
function tableBlocks(t: SimpleTable, g: Geo): Block[] {
  const total = t.columns.reduce((s, c) => s + c.weight, 0);
  let x = g.left;
  const cols = t.columns.map((c: Column) => {
    const col = { title: c.title, w: (c.weight / total) * g.cw, align: c.align, nowrap: c.nowrap === true || c.align === 'right', x };
    x += col.w;
    return col;
  });
  const titleBlock: Block = {
    height: 18,
    keepWithNext: true,
    draw: (ops, y) => ops.text(t.title.toLocaleUpperCase('es-CL'), g.left, y + 8, { font: B, size: 7.5, color: LABEL }),
  };
  const head: Block = { ...headerBlock(cols, g), keepWithNext: true };
  head.header = head;
  const out: Block[] = [titleBlock, head];
  const pad = 3;
  for (const row of t.rows) {
    const cellLines = cols.map((c, i) => (c.nowrap ? [fit(winAnsi(row[i] ?? ''), R, 8, c.w - 2 * pad)] : wrap(winAnsi(row[i] ?? ''), R, 8, c.w - 2 * pad, 4)));
    const height = Math.max(1, ...cellLines.map((l) => l.length)) * 9.8 + 2 * pad + 1;
    out.push({
      height,
      header: head,
      draw(ops, y) {
        cols.forEach((c, i) => {
          (cellLines[i] ?? []).forEach((s, k) => {
            if (c.align === 'right') ops.textRight(s, c.x + c.w - pad, y + pad + k * 9.8, { size: 8 });
            else ops.text(s, c.x + pad, y + pad + k * 9.8, { size: 8 });
          });
        });
        ops.line(g.left, y + height, g.right, y + height, LIGHT_RULE, 0.5);
      },
    });
  }
  return out;
}

// ------------------------------------------------------------------ end of the document

/** Totals (right) and notes / other currency (left): the last flowing block, never split. */
function totalsBlock(v: DocView, g: Geo): Block {
  const draw = (ops: Ops | undefined, top: number): number => {
    const totW = 215;
    const totX = g.right - totW;
    const y = top + 10;
    const labelW = totW - 12 - 80;
    let ty = y;
    if (v.totalsCaption) {
      if (ops) ops.textRight(v.totalsCaption, g.right, ty, { size: 7.5, color: GRAY_TEXT });
      ty += 11;
    }
    const boxTop = ty;
    ty += 5;
    for (const r of v.totals) {
      const strong = r.strong === true;
      const size = strong ? 10 : 8.5;
      const lines = wrap(winAnsi(r.label), strong ? B : R, size, labelW, 3);
      const rowH = Math.max(1, lines.length) * (size + 2.5) + (strong ? 4 : 1);
      if (ops) {
        if (strong) ops.line(totX, ty - 1, g.right, ty - 1, RULE, 0.6);
        lines.forEach((s, k) => ops.text(s, totX + 6, ty + (strong ? 3 : 0) + k * (size + 2.5), { font: strong ? B : R, size }));
        ops.textRight(r.value, g.right - 6, ty + (strong ? 3 : 0), { font: B, size });
      }
      ty += rowH;
    }
    ty += 3;
    if (ops) ops.rect(totX, boxTop, totW, ty - boxTop, { stroke: RULE, lineWidth: 0.6 });

    const nw = totX - g.left - 14;
    let ny = y;
    if (v.otraMoneda.length > 0) {
      if (ops) ops.text(v.otraMonedaTitle.toLocaleUpperCase('es-CL'), g.left, ny, { font: B, size: 7.5, color: LABEL });
      ny += 11;
      ny += fieldRows(ops, v.otraMoneda.map((f) => [f]), g.left, ny, nw) + 4;
    }
    for (const n of v.notes) {
      const strong = n.startsWith('El IVA');
      for (const s of wrap(winAnsi(n), strong ? B : R, strong ? 9 : 8, nw, 4)) {
        if (ops) ops.text(s, g.left, ny, { size: strong ? 9 : 8, font: strong ? B : R, color: strong ? [0, 0, 0] : GRAY_TEXT });
        ny += strong ? 11 : 10;
      }
    }
    return Math.max(ty, ny) - top;
  };
  return { height: draw(undefined, 0), draw: (ops, y) => void draw(ops, y) };
}

/** The timbre (and, in the cedible copy, the acuse de recibo) pinned to the bottom of the last page. */
function timbreZone(ops: Ops | undefined, input: PageInput, g: Geo, bottom: number): number {
  const { view: v, timbre: barcode } = input;
  const bw = barcode?.width ?? 225;
  const bh = barcode?.height ?? 80;
  const tx = Math.max(g.left, TIMBRE_LEFT);
  const timbreH = bh + 6 + 3 * 10;
  const ax = tx + bw + 16;
  const aw = g.right - ax;
  const acuseH = input.cedible ? acuseBox(undefined, v, ax, 0, aw) : 0;
  const zoneH = Math.max(timbreH, acuseH);
  if (ops) {
    const top = bottom - zoneH;
    const by = top + (zoneH - timbreH);
    if (barcode) {
      barcode.place(ops, tx, by);
    } else {
      ops.rect(tx, by, bw, bh, { stroke: RULE, lineWidth: 0.8, dash: true });
      ops.textCenter('Documento sin timbre electrónico', tx + bw / 2, by + bh / 2 - 4, { size: 8, color: GRAY_TEXT });
    }
    v.timbreLines.forEach((s, i) => ops.textCenter(s, tx + bw / 2, by + bh + 6 + i * 10, { font: i === 0 ? B : R, size: 8 }));
    if (input.cedible) acuseBox(ops, v, ax, top + (zoneH - acuseH), aw);
  }
  return zoneH;
}

/** The Ley 19.983 acuse de recibo box with the CEDIBLE legend under it. Returns its height. */
function acuseBox(ops: Ops | undefined, v: DocView, x: number, y: number, w: number): number {
  const pad = 7;
  let yy = y + pad;
  if (ops) ops.text('ACUSE DE RECIBO', x + pad, yy, { font: B, size: 8 });
  yy += 15;
  const lineField = (label: string, lx: number, lw: number, ly: number) => {
    if (!ops) return;
    const tw = ops.text(label, lx, ly, { font: B, size: 8 });
    ops.line(lx + tw + 3, ly + 8.5, lx + lw, ly + 8.5, RULE, 0.5);
  };
  const inner = w - 2 * pad;
  const half = inner / 2 - 6;
  lineField('Nombre:', x + pad, inner, yy);
  yy += 17;
  lineField('R.U.T.:', x + pad, half, yy);
  lineField('Fecha:', x + pad + half + 12, half, yy);
  yy += 17;
  lineField('Recinto:', x + pad, half, yy);
  lineField('Firma:', x + pad + half + 12, half, yy);
  yy += 19;
  for (const s of wrap(winAnsi(ACUSE_TEXT), R, 7, inner, 6)) {
    if (ops) ops.text(s, x + pad, yy, { size: 7, color: GRAY_TEXT });
    yy += 8.5;
  }
  yy += pad - 2;
  const boxH = yy - y;
  if (ops) {
    ops.rect(x, y, w, boxH, { stroke: RULE, lineWidth: 0.8 });
    ops.textRight(v.cedibleLegend, x + w, yy + 5, { font: B, size: 12 });
  }
  return boxH + 5 + 14;
}
