/**
 * 80 mm thermal roll: one page per copy, as tall as its content (the display list is built first,
 * then the page is created with the measured height). Everything stacked and centred, fonts ≥ 7 pt,
 * black only (thermal printers have one colour), the timbre centred at full width.
 */
import { Ops, type Rgb, type Stamp } from './canvas.js';
import type { PreparedImage } from './logo.js';
import { joinOrSplit, widthOf, winAnsi, wrap, type FontName } from './text.js';
import { ACUSE_TEXT } from './layout-page.js';
import type { DocView, Field, FieldRow } from './view.js';

/** 80 mm in points. */
export const THERMAL_WIDTH = 226.77;
const MARGIN = 8.5; // 3 mm
const R = 'Helvetica' as FontName;
const B = 'Helvetica-Bold' as FontName;
const BLACK: Rgb = [0, 0, 0];
const DARK: Rgb = [0.2, 0.2, 0.2];

export interface ThermalInput {
  view: DocView;
  timbre?: Stamp;
  logo?: PreparedImage;
  cedible: boolean;
}

/** The display list of one copy and the page height it needs. */
export function layoutThermal(input: ThermalInput): { ops: Ops; height: number } {
  const { view: v, timbre: barcode, logo } = input;
  const ops = new Ops();
  const left = MARGIN;
  const right = THERMAL_WIDTH - MARGIN;
  const cw = right - left;
  const cx = THERMAL_WIDTH / 2;
  let y = MARGIN + 2;

  const centred = (s: string, font: FontName, size: number, color: Rgb = BLACK, maxLines = 6): void => {
    for (const line of wrap(winAnsi(s), font, size, cw, maxLines)) {
      ops.textCenter(line, cx, y, { font, size, color });
      y += size + 2;
    }
  };
  const para = (s: string, font: FontName = R, size = 7.5, color: Rgb = BLACK, maxLines = 12): void => {
    for (const line of wrap(winAnsi(s, true), font, size, cw, maxLines)) {
      ops.text(line, left, y, { font, size, color });
      y += size + 2;
    }
  };
  /** "Label: value" with the value wrapping under itself. */
  const field = (f: Field): void => {
    const label = winAnsi(`${f.label}: `);
    const lw = Math.min(widthOf(label, B, 7.5), cw * 0.45);
    const lines = wrap(winAnsi(f.value), R, 7.5, cw - lw, 6);
    ops.text(label, left, y, { font: B, size: 7.5 });
    lines.forEach((s, i) => ops.text(s, left + lw, y + i * 9.5, { size: 7.5 }));
    y += Math.max(1, lines.length) * 9.5;
  };
  const rows = (rs: FieldRow[]): void => rs.forEach((r) => r.forEach(field));
  const rule = (dash = true): void => {
    y += 2;
    ops.line(left, y, right, y, DARK, 0.5, dash);
    y += 4;
  };
  const title = (s: string): void => {
    ops.text(s.toLocaleUpperCase('es-CL'), left, y, { font: B, size: 7.5 });
    y += 10;
  };
  const amountLine = (l: string, r: string, font: FontName = R, size = 7.5): void => {
    const rw = widthOf(winAnsi(r), font, size);
    const lines = wrap(winAnsi(l), font, size, cw - rw - 6, 4);
    lines.forEach((s, i) => ops.text(s, left, y + i * (size + 2), { font, size }));
    ops.textRight(r, right, y, { font, size });
    y += Math.max(1, lines.length) * (size + 2);
  };

  // Issuer.
  if (logo) {
    const s = Math.min(140 / logo.width, 50 / logo.height);
    const w = logo.width * s;
    const h = logo.height * s;
    ops.image('Logo', cx - w / 2, y, w, h);
    y += h + 5;
  }
  centred(v.emisor.razonSocial, B, 9, BLACK, 3);
  centred(v.emisor.giro, R, 7, BLACK, 3);
  for (const group of v.emisor.lines) {
    for (const line of joinOrSplit(group, R, 7, cw)) {
      ops.textCenter(line, cx, y, { size: 7 });
      y += 9;
    }
  }
  y += 4;

  // The box: R.U.T., document name, folio.
  const boxTop = y;
  y += 6;
  centred(`R.U.T.: ${v.rutEmisor}`, B, 9);
  centred(v.title, B, 9, BLACK, 3);
  centred(`N° ${v.folio}`, B, 9);
  y += 3;
  ops.rect(left + 4, boxTop, cw - 8, y - boxTop, { stroke: BLACK, lineWidth: 1.2 });
  y += 4;
  centred(v.siiUnit ? `S.I.I. - ${v.siiUnit}` : 'S.I.I.', B, 8);
  y += 3;

  // Document data and receptor.
  v.docInfo.forEach(field);
  if (v.receptor) {
    rule();
    rows(v.receptor);
  }
  if (v.transporte.length > 0) {
    rule();
    title('Transporte');
    rows(v.transporte);
  }
  if (v.aduana.length > 0) {
    rule();
    title('Datos de exportación');
    rows(v.aduana);
  }

  // Lines.
  rule(false);
  for (const it of v.items) {
    const head = it.codigo ? `${it.codigo} ${it.nombre}` : it.nombre;
    para(head, B, 7.5, BLACK, 4);
    for (const d of it.detalle) para(d, R, 7, DARK, 8);
    const qty = [it.tipoDoc, it.cantidad ? `${it.cantidad}${it.unidad ? ` ${it.unidad}` : ''}` : '', it.precio ? `x ${it.precio}` : '', it.descuento ? `(desc./rec. ${it.descuento})` : ''].filter((s) => s !== '').join(' ');
    amountLine(qty, it.monto);
    y += 2;
  }

  // Global discounts, commissions, subtotals (not references: printed compactly below).
  for (const t of v.tables) {
    if (t.title === 'Referencias') continue;
    rule();
    title(t.title);
    for (const r of t.compact) amountLine(r.label, r.value);
  }

  // Totals.
  rule(false);
  if (v.totalsCaption) {
    ops.textRight(v.totalsCaption, right, y, { size: 7, color: DARK });
    y += 9;
  }
  for (const t of v.totals) amountLine(t.label, t.value, t.strong ? B : R, t.strong ? 9 : 7.5);
  if (v.otraMoneda.length > 0) {
    y += 3;
    title(v.otraMonedaTitle);
    for (const f of v.otraMoneda) amountLine(f.label, f.value);
  }
  if (v.notes.length > 0) {
    y += 3;
    for (const n of v.notes) para(n, n.startsWith('El IVA') ? B : R, 7.5);
  }

  // References.
  if (v.referencias.length > 0) {
    rule();
    title('Referencias');
    for (const r of v.referencias) {
      para(`${r.tipo} N° ${r.folio}${r.fecha ? ` del ${r.fecha}` : ''}`, R, 7.5);
      const why = [r.codigo, r.razon].filter((s) => s !== '').join(': ');
      if (why) para(why, R, 7, DARK);
    }
  }

  // Timbre.
  y += 8;
  if (barcode) {
    barcode.place(ops, cx - barcode.width / 2, y);
    y += barcode.height + 5;
  } else {
    ops.rect(left + 10, y, cw - 20, 60, { stroke: DARK, lineWidth: 0.8, dash: true });
    ops.textCenter('Documento sin timbre electrónico', cx, y + 26, { size: 7.5 });
    y += 65;
  }
  v.timbreLines.forEach((s, i) => centred(s, i === 0 ? B : R, 7.5));

  // Cedible copy: the acuse de recibo.
  if (input.cedible) {
    rule(false);
    title('Acuse de recibo');
    for (const l of ['Nombre:', 'R.U.T.:', 'Fecha:', 'Recinto:', 'Firma:']) {
      const w = ops.text(l, left, y + 4, { font: B, size: 7.5 });
      ops.line(left + w + 3, y + 12, right, y + 12, DARK, 0.5);
      y += 15;
    }
    y += 3;
    para(ACUSE_TEXT, R, 7, DARK);
    y += 4;
    centred(v.cedibleLegend, B, 11);
  }
  y += MARGIN;
  return { ops, height: Math.ceil(y) };
}
