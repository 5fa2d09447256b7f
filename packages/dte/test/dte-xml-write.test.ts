import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dte } from '../src/model.js';
import { TIPOS_DTE, type TipoDte } from '../src/tipos.js';
import { TimbreError } from '../src/errors.js';
import { escapeText } from '../src/xml/text.js';
import { parseXml } from '../src/xml/parse.js';
import { writeDocumento, writeDte } from '../src/dte-xml/write.js';
import { readDte } from '../src/dte-xml/read.js';

const SCHEMAS = '/work/shared/sii/schemas';
const XMLLINT = '/usr/bin/xmllint';
const NS = 'http://www.sii.cl/SiiDte';
const TMST = '2025-03-04T10:11:12';

// ---------------------------------------------------------------------------------------------
// Representative documents, one per type, written by hand (Latin-1 text only, so that a round trip
// is exact; replacement of other characters is tested separately).
// ---------------------------------------------------------------------------------------------

const emisorFull = () => ({
  rutEmisor: '76086428-5',
  rznSoc: 'Comercializadora Ñandú y Compañía Limitada',
  giroEmis: 'Venta al por menor de artículos de ferretería',
  telefono: ['+56 2 2345 6789', '+56 9 8765 4321'],
  correoEmisor: 'facturas@nandu.cl',
  acteco: [475230, 620200],
  sucursal: 'Casa Matriz',
  cdgSiiSucur: 81234567,
  dirOrigen: 'Av. Providencia 1234, of. 5',
  cmnaOrigen: 'Providencia',
  ciudadOrigen: 'Santiago',
  cdgVendedor: 'V-01',
});
const emisorMin = () => ({ rutEmisor: '76086428-5', rznSoc: 'Ñandú SpA', giroEmis: 'Servicios', acteco: [620200] });
const receptorFull = () => ({
  rutRecep: '77894717-K',
  cdgIntRecep: 'CLI-001',
  rznSocRecep: 'Constructora Los Álamos S.A.',
  giroRecep: 'Construcción de edificios',
  contacto: 'María José Pérez',
  correoRecep: 'dte@losalamos.cl',
  dirRecep: 'Los Carrera 456',
  cmnaRecep: 'Concepción',
  ciudadRecep: 'Concepción',
  dirPostal: 'Casilla 123',
  cmnaPostal: 'Concepción',
  ciudadPostal: 'Concepción',
});

function factura33(): Dte {
  return {
    encabezado: {
      idDoc: {
        tipoDte: 33,
        folio: 1,
        fchEmis: '2025-03-04',
        tpoTranVenta: 1,
        fmaPago: 2,
        mntPagos: [
          { fchPago: '2025-04-04', mntPago: 60000, glosaPagos: 'Primera cuota' },
          { fchPago: '2025-05-04', mntPago: 56394 },
        ],
        medioPago: 'PE',
        tpoCtaPago: 'CORRIENTE',
        numCtaPago: '123456789',
        bcoPago: 'Banco de Chile',
        termPagoCdg: '30D',
        termPagoGlosa: '30 días fecha factura',
        termPagoDias: 30,
        fchVenc: '2025-04-03',
      },
      emisor: emisorFull(),
      receptor: receptorFull(),
      totales: {
        mntNeto: 88000,
        mntExe: 5000,
        tasaIva: 19,
        iva: 16720,
        imptoReten: [{ tipoImp: 271, tasaImp: 18, montoImp: 1234 }],
        mntTotal: 116394,
      },
      otraMoneda: { tpoMoneda: 'DOLAR USA', tpoCambio: 950.25, mntNetoOtrMnda: 92.6072, ivaOtrMnda: 17.5954, mntTotOtrMnda: 122.4865 },
    },
    detalle: [
      {
        nroLinDet: 1,
        cdgItem: [
          { tpoCodigo: 'INT1', vlrCodigo: 'TAL-001' },
          { tpoCodigo: 'EAN13', vlrCodigo: '7801234567890' },
        ],
        nmbItem: 'Taladro percutor 750W',
        dscItem: 'Incluye maletín & brocas <6 mm> "profesional" \'x\'\r\nGarantía 12 meses',
        qtyRef: 1,
        unmdRef: 'CJ',
        prcRef: 91980,
        qtyItem: 2,
        subcantidad: [{ subQty: 1.5, subCod: 'LOTE-1' }],
        fchElabor: '2024-12-01',
        fchVencim: '2029-12-01',
        unmdItem: 'UN',
        prcItem: 45990,
        otrMnda: { prcOtrMon: 48.396737, moneda: 'USD', fctConv: 950.25, dctoOtrMnda: 9.6793, montoItemOtrMnda: 87.1141 },
        descuentoPct: 10,
        descuentoMonto: 9198,
        subDscto: [{ tipo: '%', valor: 10 }],
        recargoPct: 5.5,
        recargoMonto: 100,
        subRecargo: [{ tipo: '$', valor: 100 }],
        codImpAdic: [271],
        montoItem: 82882,
      },
      { nroLinDet: 2, indExe: 1, nmbItem: 'Flete a obra', qtyItem: 1, prcItem: 5000, montoItem: 5000 },
      { nroLinDet: 3, nmbItem: 'Tornillo 6x1"', qtyItem: 1000.5, unmdItem: 'UN', prcItem: 5.118, montoItem: 5118 },
    ],
    subTotInfo: [{ nroSti: 1, glosaSti: 'Herramientas', ordenSti: 1, subTotNetoSti: 82882.5, lineasDeta: [1, 3] }],
    dscRcgGlobal: [{ nroLinDr: 1, tpoMov: 'D', glosaDr: 'Descuento cliente frecuente', tpoValor: '%', valorDr: 0.5 }],
    referencia: [
      { nroLinRef: 1, tpoDocRef: '801', folioRef: 'OC-4500012345', fchRef: '2025-03-01', razonRef: 'Orden de compra' },
      { nroLinRef: 2, tpoDocRef: 'SET', folioRef: '4256-1', fchRef: '2025-03-04', razonRef: 'CASO 4256-1' },
    ],
    geoRefEmision: { latitudEmision: '-33.4372', longitudEmision: '-70.6506', sistemaReferencia: 1 },
  };
}

function exenta34(): Dte {
  return {
    encabezado: {
      idDoc: { tipoDte: 34, folio: 2, fchEmis: '2025-03-04', fmaPago: 1 },
      emisor: emisorMin(),
      receptor: { rutRecep: '77894717-K', rznSocRecep: 'Constructora Los Álamos S.A.' },
      totales: { mntExe: 100000, mntTotal: 100000 },
    },
    detalle: [{ nroLinDet: 1, nmbItem: 'Asesoría contable mensual', qtyItem: 1, prcItem: 100000, montoItem: 100000 }],
  };
}

function compra46(): Dte {
  return {
    encabezado: {
      idDoc: { tipoDte: 46, folio: 3, fchEmis: '2025-03-04', tpoTranCompra: 1, fmaPago: 1, fchCancel: '2025-03-04', mntCancel: 10000, saldoInsol: 0 },
      emisor: { ...emisorFull(), idAdicEmisor: 'BODEGA-2', rutProveedor: '12345678-5', rznSocProveedor: 'José Muñoz Agricultor' },
      receptor: { rutRecep: '12345678-5', rznSocRecep: 'José Muñoz', giroRecep: 'Agricultor', dirRecep: 'Fundo El Peñón s/n', cmnaRecep: 'Curicó' },
      totales: {
        mntNeto: 10000,
        tasaIva: 19,
        iva: 1900,
        imptoReten: [{ tipoImp: 15, tasaImp: 19, montoImp: 1900 }],
        credEc: 0,
        grntDep: 0,
        comisiones: { valComNeto: 250, valComExe: 0, valComIva: 48 },
        mntTotal: 10000,
        montoNf: -10,
        montoPeriodo: 10000,
        saldoAnterior: 0,
        vlrPagar: 9990,
      },
    },
    detalle: [
      {
        nroLinDet: 1,
        retenedor: { indAgente: 'R', mntBaseFaena: 10000, mntMargComer: 0, prcConsFinal: 11900 },
        nmbItem: 'Trigo candeal',
        qtyItem: 500,
        unmdItem: 'KG',
        prcItem: 20,
        codImpAdic: [15],
        montoItem: 10000,
      },
    ],
    comisiones: [
      { nroLinCom: 1, tipoMovim: 'C', glosa: 'Comisión por venta', tasaComision: 2.5, valComNeto: 250, valComExe: 0, valComIva: 48 },
      { nroLinCom: 2, tipoMovim: 'O', glosa: 'Otros cargos', valComNeto: 0, valComExe: 0, valComIva: 0 },
    ],
  };
}

function guia52(): Dte {
  return {
    encabezado: {
      idDoc: { tipoDte: 52, folio: 4, fchEmis: '2025-03-04', tipoDespacho: 2, indTraslado: 8, tpoImpresion: 'T' },
      emisor: { ...emisorMin(), guiaExport: { cdgTraslado: 1, folioAut: 123, fchAut: '2025-01-15' }, dirOrigen: 'Ruta 5 Sur km 300', cmnaOrigen: 'Talca' },
      receptor: { rutRecep: '76086428-5', rznSocRecep: 'Ñandú SpA' },
      transporte: {
        patente: 'ABCD12',
        rutTrans: '76543210-3',
        chofer: { rutChofer: '12345678-5', nombreChofer: 'Juan Pérez Soto' },
        dirDest: 'Puerto de San Antonio, sitio 3',
        cmnaDest: 'San Antonio',
        ciudadDest: 'San Antonio',
      },
      totales: { mntTotal: 0 },
    },
    detalle: [{ nroLinDet: 1, nmbItem: 'Pallet de madera de pino', qtyItem: 12, unmdItem: 'UN', montoItem: 0 }],
    manejoMadera: {
      comunaRolOrigen: 8101,
      mnzRolOrigen: 12,
      prdRolOrigen: 34,
      codPlanConaf: 'PM-2025-001',
      latitudOrigenMadera: '-36.82',
      longitudOrigenMadera: '-73.05',
      sistemareferenciaMadera: 1,
    },
  };
}

function debito56(): Dte {
  return {
    encabezado: {
      idDoc: { tipoDte: 56, folio: 5, fchEmis: '2025-03-05', mntBruto: 1 },
      emisor: emisorMin(),
      rutMandante: '11111111-1',
      receptor: { rutRecep: '77894717-K', rznSocRecep: 'Constructora Los Álamos S.A.', extranjero: { numId: 'P1234567', nacionalidad: '225', tipoDocId: 1 } },
      rutSolicita: '22222222-2',
      totales: { mntNeto: 1000, tasaIva: 19, iva: 190, mntTotal: 1190 },
    },
    detalle: [{ nroLinDet: 1, nmbItem: 'Intereses por mora', montoItem: 1190 }],
    referencia: [{ nroLinRef: 1, tpoDocRef: '33', folioRef: '1', fchRef: '2025-03-04', codRef: 3, razonRef: 'Corrige montos: intereses' }],
  };
}

function credito61(): Dte {
  return {
    encabezado: {
      idDoc: { tipoDte: 61, folio: 6, fchEmis: '2025-03-06', indNoRebaja: 1 },
      emisor: emisorMin(),
      receptor: { rutRecep: '77894717-K', rznSocRecep: 'Constructora Los Álamos S.A.' },
      totales: { mntNeto: 88000, mntExe: 5000, tasaIva: 19, iva: 16720, mntTotal: 109720 },
    },
    detalle: [{ nroLinDet: 1, nmbItem: 'Anula factura N° 1', montoItem: 109720 }],
    referencia: [
      { nroLinRef: 1, tpoDocRef: '33', folioRef: '1', rutOtr: '99500840-8', fchRef: '2025-03-04', codRef: 1, razonRef: 'Anula documento: error en RUT' },
      { nroLinRef: 2, tpoDocRef: '52', indGlobal: 1, folioRef: '0', fchRef: '2025-03-04', razonRef: 'Guías del período' },
    ],
  };
}

function liquidacion43(): Dte {
  return {
    encabezado: {
      idDoc: { tipoDte: 43, folio: 7, fchEmis: '2025-03-07', indServicio: 3, tpoTranVenta: 1, fmaPago: 2, fchVenc: '2025-04-07' },
      emisor: { ...emisorMin(), telefono: ['+56 2 1111 2222'], dirOrigen: 'Av. Matta 100', cmnaOrigen: 'Santiago', ciudadOrigen: 'Santiago' },
      receptor: { rutRecep: '77894717-K', rznSocRecep: 'Viña Los Álamos Ltda.', giroRecep: 'Viñedos', dirRecep: 'Camino Real 1', cmnaRecep: 'Curicó' },
      totales: {
        mntNeto: -8000,
        mntExe: 0,
        tasaIva: 19,
        iva: -1520,
        ivaProp: -1520,
        ivaTerc: 0,
        imptoReten: [{ tipoImp: 24, tasaImp: 31.5, montoImp: -315 }],
        comisiones: { valComNeto: 10000, valComExe: 0, valComIva: 1900 },
        mntTotal: -21420,
        montoPeriodo: -21420,
        saldoAnterior: 0,
        vlrPagar: -21420,
      },
    },
    detalle: [
      { nroLinDet: 1, tpoDocLiq: '33', nmbItem: 'Venta vino a granel, factura 1001', qtyItem: 100, unmdItem: 'LT', prcItem: 20, montoItem: 2000 },
      { nroLinDet: 2, tpoDocLiq: '61', nmbItem: 'Nota de crédito 55 sobre factura 999', montoItem: -10000 },
    ],
    subTotInfo: [{ nroSti: 1, glosaSti: 'Ventas del período', valSubtotSti: 2000 }],
    referencia: [{ nroLinRef: 1, tpoDocRef: '33', folioRef: '1001', fchRef: '2025-03-01', razonRef: 'Factura liquidada' }],
    comisiones: [
      { nroLinCom: 1, tipoMovim: 'C', glosa: 'Comisión 10%', tasaComision: 10, valComNeto: 10000, valComExe: 0, valComIva: 1900 },
      { nroLinCom: 2, tipoMovim: 'O', glosa: 'Reverso flete', valComNeto: -500, valComExe: 0, valComIva: -95 },
    ],
  };
}

function exportacion(tipo: 110 | 111 | 112, folio: number): Dte {
  const d: Dte = {
    encabezado: {
      idDoc: { tipoDte: tipo, folio, fchEmis: '2025-03-08', tipoDespacho: 1, indServicio: 3, fmaPago: 1, fmaPagExp: 21 },
      emisor: { ...emisorMin(), codAdicSucur: 'SUC-EXP', dirOrigen: 'Av. Matta 100', cmnaOrigen: 'Santiago', idAdicEmisor: 'EXP-01' },
      receptor: {
        rutRecep: '55555555-5',
        rznSocRecep: 'Acme Imports & Co. LLC',
        extranjero: { numId: 'US-98-7654321', nacionalidad: '225', idAdicRecep: 'TAXID-1' },
        giroRecep: 'Importer',
        dirRecep: '1 Main St, Miami FL',
        ciudadRecep: 'Miami',
      },
      transporte: {
        aduana: {
          codModVenta: 1,
          codClauVenta: 5,
          totClauVenta: 12345.67,
          codViaTransp: 1,
          nombreTransp: 'MSC Aurora',
          rutCiaTransp: '80000000-1',
          nomCiaTransp: 'MSC Chile S.A.',
          idAdicTransp: 'V-123',
          booking: 'BK123456',
          operador: 'OP-1',
          codPtoEmbarque: 906,
          idAdicPtoEmb: 'San Antonio',
          codPtoDesemb: 222,
          idAdicPtoDesemb: 'Miami',
          tara: 2200,
          codUnidMedTara: 6,
          pesoBruto: 18500.5,
          codUnidPesoBruto: 6,
          pesoNeto: 16300.25,
          codUnidPesoNeto: 6,
          totItems: 2,
          totBultos: 40,
          tipoBultos: [{ codTpoBultos: 75, cantBultos: 1, marcas: 'ACME/MIA', idContainer: 'MSCU1234567', sello: 'SL-998877', emisorSello: 'Aduana de Chile' }],
          mntFlete: 1500.1234,
          mntSeguro: 120.5,
          codPaisRecep: '225',
          codPaisDestin: '225',
        },
      },
      totales: { tpoMoneda: 'DOLAR USA', mntExe: 12345.6789, mntTotal: 12345.6789 },
      otraMoneda: { tpoMoneda: 'PESO CL', tpoCambio: 950.25, mntExeOtrMnda: 11731430.2, mntTotOtrMnda: 11731430.2 },
    },
    detalle: [
      {
        nroLinDet: 1,
        cdgItem: [{ tpoCodigo: 'SKU', vlrCodigo: 'CAR-750' }],
        indExe: 1,
        nmbItem: 'Vino Carménère 750 ml',
        qtyItem: 1200,
        subcantidad: [{ subQty: 600, subCod: 'LOTE-A', tipCodSubQty: 'LOTE' }],
        unmdItem: 'BOT',
        prcItem: 8.5,
        otrMnda: { prcOtrMon: 8077.125, moneda: 'CLP', fctConv: 950.25, montoItemOtrMnda: 9692550 },
        montoItem: 10200,
      },
      {
        nroLinDet: 2,
        indExe: 1,
        nmbItem: 'Vino Syrah 750 ml',
        qtyItem: 250,
        unmdItem: 'BOT',
        prcItem: 9.125,
        descuentoPct: 6,
        descuentoMonto: 137,
        subDscto: [{ tipo: '%', valor: 6 }],
        montoItem: 2145.6789,
      },
    ],
    dscRcgGlobal: [{ nroLinDr: 1, tpoMov: 'R', glosaDr: 'Flete internacional', tpoValor: '$', valorDr: 1500.12, valorDrOtrMnda: 1425489.03, indExeDr: 1 }],
    referencia: [{ nroLinRef: 1, tpoDocRef: '807', folioRef: 'DUS-123', idAdicOtr: 'ADU-01', fchRef: '1999-12-31', razonRef: 'DUS' }],
  };
  if (tipo !== 110) {
    d.referencia = [
      ...(d.referencia ?? []),
      { nroLinRef: 2, tpoDocRef: '110', folioRef: '8', fchRef: '2025-03-08', codRef: tipo === 112 ? 1 : 3, razonRef: tipo === 112 ? 'Anula factura de exportación' : 'Ajuste de precio' },
    ];
  }
  return d;
}

function boleta39(): Dte {
  return {
    encabezado: {
      idDoc: { tipoDte: 39, folio: 10, fchEmis: '2025-03-09', indServicio: 3, periodoDesde: '2025-02-01', periodoHasta: '2025-02-28', fchVenc: '2025-03-20', medioPago: '1' },
      emisor: {
        rutEmisor: '76086428-5',
        rznSoc: 'Productora de Espectáculos Ñuñoa SpA',
        giroEmis: 'Espectáculos',
        acteco: [],
        cdgSiiSucur: 81234567,
        dirOrigen: 'Irarrázaval 3000',
        cmnaOrigen: 'Ñuñoa',
        ciudadOrigen: 'Santiago',
        rutProvSw: '76123456-7',
      },
      receptor: {
        rutRecep: '66666666-6',
        cdgIntRecep: 'WEB',
        rznSocRecep: 'Cliente boleta',
        contacto: 'Ana',
        correoRecep: 'ana@example.cl',
        telefonoRecep: '+56912345678',
        dirRecep: 'Av. Grecia 1',
        cmnaRecep: 'Ñuñoa',
        ciudadRecep: 'Santiago',
      },
      totales: { mntNeto: 8403, mntExe: 0, iva: 1597, mntTotal: 10000, montoNf: 0, totalPeriodo: 10000, saldoAnterior: 0, vlrPagar: 10000 },
    },
    detalle: [
      {
        nroLinDet: 1,
        cdgItem: [{ tpoCodigo: 'INT', vlrCodigo: 'ENT-GRAL' }],
        itemEspectaculo: 1,
        rutMandante: '77777777-7',
        nmbItem: 'Entrada general',
        infoTicket: {
          folioTicket: 123456,
          fchGenera: '2025-03-01T12:00:00',
          nmbEvento: 'Concierto de verano',
          tpoTicket: 'GENERAL',
          cdgEvento: 'CV25',
          fchEvento: '2025-03-15T21:00:00',
          lugarEvento: 'Teatro Municipal de Ñuñoa',
          ubicEvento: 'Platea',
          filaUbicEvento: 'F',
          asntoUbicEvento: '12',
        },
        qtyItem: 2,
        unmdItem: 'UN',
        prcItem: 4950,
        descuentoPct: 0,
        descuentoMonto: 0,
        recargoPct: 1.01,
        recargoMonto: 100,
        montoItem: 10000,
      },
    ],
    subTotInfo: [{ nroSti: 1, lineasDeta: [1] }],
    dscRcgGlobal: [{ nroLinDr: 1, tpoMov: 'R', tpoValor: '$', valorDr: 100, glosaDr: 'Cargo por servicio' }],
    referencia: [{ nroLinRef: 1, tpoDocRef: 'SET', folioRef: '1', codRefBoleta: 'SET', razonRef: 'CASO-1', codVndor: 'V1', codCaja: 'CAJA-01', fchRef: '' }],
    geoRefEmision: { latitudEmision: '-33.45', longitudEmision: '-70.60', sistemaReferencia: 1 },
  };
}

function boleta41(): Dte {
  return {
    encabezado: {
      idDoc: { tipoDte: 41, folio: 11, fchEmis: '2025-03-09', indServicio: 3 },
      emisor: { rutEmisor: '76086428-5', rznSoc: 'Librería Ñandú', giroEmis: 'Libros', acteco: [] },
      receptor: { rutRecep: '66666666-6', rznSocRecep: '' },
      totales: { mntExe: 5000, mntTotal: 5000 },
    },
    detalle: [{ nroLinDet: 1, indExe: 1, nmbItem: 'Libro "Cien años de soledad"', montoItem: 5000 }],
  };
}

const MODELS: Record<TipoDte, () => Dte> = {
  33: factura33,
  34: exenta34,
  39: boleta39,
  41: boleta41,
  43: liquidacion43,
  46: compra46,
  52: guia52,
  56: debito56,
  61: credito61,
  110: () => exportacion(110, 8),
  111: () => exportacion(111, 9),
  112: () => exportacion(112, 12),
};

// ---------------------------------------------------------------------------------------------
// Fake but schema-valid TED and Signature
// ---------------------------------------------------------------------------------------------

const b64 = (n: number): string => randomBytes(n).toString('base64');
const wrap = (s: string): string => s.replace(/(.{76})/g, '$1\n');

function fakeTed(d: Dte): string {
  const { idDoc, emisor, receptor, totales } = d.encabezado;
  const rsr = (receptor.rznSocRecep || receptor.rutRecep).slice(0, 40).trim();
  const it1 = (d.detalle[0]?.nmbItem ?? 'Sin detalle').slice(0, 40).trim();
  return [
    '<TED version="1.0">',
    '<DD>',
    `<RE>${emisor.rutEmisor}</RE>`,
    `<TD>${idDoc.tipoDte}</TD>`,
    `<F>${idDoc.folio}</F>`,
    `<FE>${idDoc.fchEmis}</FE>`,
    `<RR>${receptor.rutRecep}</RR>`,
    `<RSR>${escapeText(rsr)}</RSR>`,
    `<MNT>${totales.mntTotal}</MNT>`,
    `<IT1>${escapeText(it1)}</IT1>`,
    '<CAF version="1.0">',
    '<DA>',
    `<RE>${emisor.rutEmisor}</RE>`,
    '<RS>ÑANDU SPA</RS>',
    `<TD>${idDoc.tipoDte}</TD>`,
    '<RNG><D>1</D><H>100</H></RNG>',
    '<FA>2025-01-02</FA>',
    `<RSAPK><M>${b64(64)}</M><E>Aw==</E></RSAPK>`,
    '<IDK>100</IDK>',
    '</DA>',
    `<FRMA algoritmo="SHA1withRSA">${b64(64)}</FRMA>`,
    '</CAF>',
    `<TSTED>${TMST}</TSTED>`,
    '</DD>',
    `<FRMT algoritmo="SHA1withRSA">${b64(64)}</FRMT>`,
    '</TED>',
  ].join('\n');
}

function fakeSignature(uri: string): string {
  return [
    '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#">',
    '<SignedInfo>',
    '<CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"></CanonicalizationMethod>',
    '<SignatureMethod Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1"></SignatureMethod>',
    `<Reference URI="#${uri}">`,
    '<Transforms>',
    '<Transform Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"></Transform>',
    '</Transforms>',
    '<DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"></DigestMethod>',
    `<DigestValue>${b64(20)}</DigestValue>`,
    '</Reference>',
    '</SignedInfo>',
    `<SignatureValue>${wrap(b64(256))}</SignatureValue>`,
    '<KeyInfo>',
    '<KeyValue>',
    '<RSAKeyValue>',
    `<Modulus>${wrap(b64(256))}</Modulus>`,
    '<Exponent>AQAB</Exponent>',
    '</RSAKeyValue>',
    '</KeyValue>',
    '<X509Data>',
    `<X509Certificate>${wrap(b64(900))}</X509Certificate>`,
    '</X509Data>',
    '</KeyInfo>',
    '</Signature>',
  ].join('\n');
}

const idOf = (d: Dte): string => `T${d.encabezado.idDoc.tipoDte}F${d.encabezado.idDoc.folio}`;
const optsFor = (d: Dte) => ({ id: idOf(d), tedXml: fakeTed(d), tmstFirma: TMST });
const writeFull = (d: Dte): string => writeDte(d, { ...optsFor(d), signatureXml: fakeSignature(idOf(d)) });

function caught(fn: () => unknown): TimbreError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TimbreError) return e;
    throw e;
  }
  throw new Error('expected a TimbreError, nothing was thrown');
}

function xmllint(args: string[]): { status: number | null; out: string; err: string } {
  const r = spawnSync(XMLLINT, args, { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, out: r.stdout.toString('utf8'), err: r.stderr.toString('utf8') };
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'timbre-dte-xml-'));
});
afterAll(() => {
  // TIMBRE_KEEP_TMP=1 keeps the written files for inspection.
  if (!process.env.TIMBRE_KEEP_TMP) rmSync(dir, { recursive: true, force: true });
});

const DTE_TYPES = TIPOS_DTE.filter((t) => t !== 39 && t !== 41);
const BOLETA_TYPES = [39, 41] as const;

// ---------------------------------------------------------------------------------------------
// (a) schema validation with xmllint
// ---------------------------------------------------------------------------------------------

describe('written documents validate against the SII schemas', () => {
  it.each(DTE_TYPES)('standalone DTE %i validates against DTE_v10.xsd', (tipo) => {
    const d = MODELS[tipo]();
    const xml = writeFull(d);
    const file = join(dir, `dte-${tipo}.xml`);
    writeFileSync(file, Buffer.from(xml, 'latin1'));
    const r = xmllint(['--noout', '--schema', join(SCHEMAS, 'DTE_v10.xsd'), file]);
    expect(r.err).toContain('validates');
    expect(r.status).toBe(0);
  });

  it('the nine DTE types together validate inside an EnvioDTE', () => {
    const docs = DTE_TYPES.map((t) => MODELS[t]());
    const subTot = DTE_TYPES.map((t) => `<SubTotDTE>\n<TpoDTE>${t}</TpoDTE>\n<NroDTE>1</NroDTE>\n</SubTotDTE>`).join('\n');
    const dtes = docs.map((d) => writeFull(d).replace(/^<\?xml[^>]*\?>\n/, '')).join('\n');
    const xml = [
      '<?xml version="1.0" encoding="ISO-8859-1"?>',
      `<EnvioDTE xmlns="${NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="1.0">`,
      '<SetDTE ID="SetDoc">',
      '<Caratula version="1.0">',
      '<RutEmisor>76086428-5</RutEmisor>',
      '<RutEnvia>13185095-6</RutEnvia>',
      '<RutReceptor>60803000-K</RutReceptor>',
      '<FchResol>2014-08-22</FchResol>',
      '<NroResol>0</NroResol>',
      `<TmstFirmaEnv>${TMST}</TmstFirmaEnv>`,
      subTot,
      '</Caratula>',
      dtes,
      '</SetDTE>',
      fakeSignature('SetDoc'),
      '</EnvioDTE>',
    ].join('\n');
    const file = join(dir, 'envio-dte.xml');
    writeFileSync(file, Buffer.from(xml, 'latin1'));
    const r = xmllint(['--noout', '--schema', join(SCHEMAS, 'EnvioDTE_v10.xsd'), file]);
    expect(r.err).toContain('validates');
    expect(r.status).toBe(0);
  });

  it('boletas 39 and 41 validate inside an EnvioBOLETA against EnvioBOLETA_v11.xsd', () => {
    const docs = BOLETA_TYPES.map((t) => MODELS[t]());
    const dtes = docs.map((d) => writeFull(d).replace(/^<\?xml[^>]*\?>\n/, '')).join('\n');
    const xml = [
      '<?xml version="1.0" encoding="ISO-8859-1"?>',
      `<EnvioBOLETA xmlns="${NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="1.0">`,
      '<SetDTE ID="SetBol">',
      '<Caratula version="1.0">',
      '<RutEmisor>76086428-5</RutEmisor>',
      '<RutEnvia>13185095-6</RutEnvia>',
      '<RutReceptor>60803000-K</RutReceptor>',
      '<FchResol>2014-08-22</FchResol>',
      '<NroResol>0</NroResol>',
      `<TmstFirmaEnv>${TMST}</TmstFirmaEnv>`,
      '<SubTotDTE>\n<TpoDTE>39</TpoDTE>\n<NroDTE>1</NroDTE>\n</SubTotDTE>',
      '<SubTotDTE>\n<TpoDTE>41</TpoDTE>\n<NroDTE>1</NroDTE>\n</SubTotDTE>',
      '</Caratula>',
      dtes,
      '</SetDTE>',
      fakeSignature('SetBol'),
      '</EnvioBOLETA>',
    ].join('\n');
    const file = join(dir, 'envio-boleta.xml');
    writeFileSync(file, Buffer.from(xml, 'latin1'));
    const r = xmllint(['--noout', '--schema', join(SCHEMAS, 'EnvioBOLETA_v11.xsd'), file]);
    expect(r.err).toContain('validates');
    expect(r.status).toBe(0);
  });

  it('a boleta is not a valid DTE_v10 document (the structures really differ)', () => {
    const d = boleta39();
    const file = join(dir, 'boleta-as-dte.xml');
    writeFileSync(file, Buffer.from(writeFull(d), 'latin1'));
    const r = xmllint(['--noout', '--schema', join(SCHEMAS, 'DTE_v10.xsd'), file]);
    expect(r.status).not.toBe(0);
    expect(r.err).toContain('fails to validate');
  });
});

// ---------------------------------------------------------------------------------------------
// Shape of the output
// ---------------------------------------------------------------------------------------------

describe('writeDocumento output', () => {
  it('uses the branch root element and ID, with the TED and TmstFirma last', () => {
    expect(writeDocumento(factura33(), optsFor(factura33()))).toMatch(/^<Documento ID="T33F1">\n<Encabezado>\n<IdDoc>\n<TipoDTE>33<\/TipoDTE>/);
    expect(writeDocumento(liquidacion43(), optsFor(liquidacion43()))).toMatch(/^<Liquidacion ID="T43F7">\n/);
    const exp = exportacion(110, 8);
    const text = writeDocumento(exp, optsFor(exp));
    expect(text).toMatch(/^<Exportaciones ID="T110F8">\n/);
    expect(text).toMatch(/<\/TED>\n<TmstFirma>2025-03-04T10:11:12<\/TmstFirma>\n<\/Exportaciones>$/);
    expect(writeDocumento(boleta39(), optsFor(boleta39()))).toMatch(/^<Documento ID="T39F10">\n/);
  });

  it('never self-closes, never indents, never declares a namespace, keeps lines short', () => {
    for (const tipo of TIPOS_DTE) {
      const d = MODELS[tipo]();
      const text = writeDocumento(d, optsFor(d));
      expect(text).not.toMatch(/\/>/);
      expect(text).not.toMatch(/\n[ \t]/);
      expect(text).not.toContain('xmlns');
      expect(text).not.toMatch(/<([A-Za-z]+)><\/\1>/); // no empty element
      for (const line of text.split('\n')) expect(line.length).toBeLessThan(1200);
    }
  });

  it('writes elements in XSD order whatever the order of the model keys', () => {
    const d = factura33();
    const reversed = JSON.parse(JSON.stringify(d, (_k, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v))) as Dte;
    expect(Object.keys(reversed.encabezado)[0]).toBe('otraMoneda');
    const opts = optsFor(d);
    const text = writeDocumento(d, opts);
    expect(writeDocumento(reversed, opts)).toBe(text);
    const order = ['<IdDoc>', '<Emisor>', '<Receptor>', '<Totales>', '<OtraMoneda>', '<Detalle>', '<SubTotInfo>', '<DscRcgGlobal>', '<Referencia>', '<GeoRefEmision>', '<TED'];
    const positions = order.map((tag) => text.indexOf(tag));
    expect(positions.every((p) => p > 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  });

  it('uses the boleta names and places (RznSocEmisor, GiroEmisor, RUTProvSW after Receptor, CodRef text)', () => {
    const text = writeDocumento(boleta39(), optsFor(boleta39()));
    expect(text).toContain('<RznSocEmisor>Productora de Espectáculos Ñuñoa SpA</RznSocEmisor>\n<GiroEmisor>Espectáculos</GiroEmisor>');
    expect(text).not.toContain('<RznSoc>');
    expect(text).not.toContain('<Acteco>');
    expect(text).toMatch(/<\/Receptor>\n<RUTProvSW>76123456-7<\/RUTProvSW>\n<Totales>/);
    expect(text).toContain('<CodRef>SET</CodRef>');
    expect(text).not.toContain('<FchRef>');
    expect(text).toContain('<TotalPeriodo>10000</TotalPeriodo>');
  });

  it('writes the export Totales with TpoMoneda first and decimal amounts', () => {
    const d = exportacion(110, 8);
    const text = writeDocumento(d, optsFor(d));
    expect(text).toContain('<Totales>\n<TpoMoneda>DOLAR USA</TpoMoneda>\n<MntExe>12345.6789</MntExe>\n<MntTotal>12345.6789</MntTotal>\n</Totales>');
    expect(text).toContain('<MontoItem>2145.6789</MontoItem>');
  });

  it('writes negative amounts in 43', () => {
    const text = writeDocumento(liquidacion43(), optsFor(liquidacion43()));
    expect(text).toContain('<MntTotal>-21420</MntTotal>');
    expect(text).toContain('<TpoDocLiq>61</TpoDocLiq>');
    expect(text).toContain('<MontoItem>-10000</MontoItem>');
  });

  it('formats numbers without exponent or trailing zeros and rounds to the XSD decimals', () => {
    const d = exenta34();
    const line = d.detalle[0]!;
    line.qtyItem = 0.1 + 0.2; // 0.30000000000000004
    line.prcItem = 0.000001;
    line.qtyRef = 1.0000005; // 7 decimals → rounded half away from zero to 6
    line.prcRef = 123456789012.5;
    const text = writeDocumento(d, optsFor(d));
    expect(text).toContain('<QtyItem>0.3</QtyItem>');
    expect(text).toContain('<PrcItem>0.000001</PrcItem>');
    expect(text).toContain('<QtyRef>1.000001</QtyRef>');
    expect(text).toContain('<PrcRef>123456789012.5</PrcRef>');
    d.encabezado.totales.mntTotal = 1e17;
    expect(writeDocumento(d, optsFor(d))).toContain('<MntTotal>100000000000000000</MntTotal>');
  });

  it('escapes text as C14N does and trims it', () => {
    const d = exenta34();
    d.detalle[0]!.nmbItem = '  A&B <C> "d" \'e\'  ';
    const text = writeDocumento(d, optsFor(d));
    expect(text).toContain('<NmbItem>A&amp;B &lt;C&gt; "d" \'e\'</NmbItem>');
  });

  it('omits empty optional strings instead of writing empty elements', () => {
    const d = exenta34();
    d.encabezado.receptor.giroRecep = '   ';
    d.detalle[0]!.dscItem = '';
    const text = writeDocumento(d, optsFor(d));
    expect(text).not.toContain('GiroRecep');
    expect(text).not.toContain('DscItem');
  });

  it('writeDte wraps declaration, DTE element, Documento and Signature', () => {
    const d = exenta34();
    const sig = fakeSignature(idOf(d));
    const xml = writeDte(d, { ...optsFor(d), signatureXml: sig });
    expect(xml.startsWith(`<?xml version="1.0" encoding="ISO-8859-1"?>\n<DTE xmlns="${NS}" version="1.0">\n<Documento ID="T34F2">`)).toBe(true);
    expect(xml.endsWith(`</Documento>\n${sig}\n</DTE>`)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// (b) round trip
// ---------------------------------------------------------------------------------------------

describe('round trip write → parseXml → readDte', () => {
  it.each([...TIPOS_DTE])('type %i reads back to the same model', (tipo) => {
    const d = MODELS[tipo]();
    const xml = writeFull(d);
    const doc = parseXml(Buffer.from(xml, 'latin1'));
    expect(doc.encoding).toBe('ISO-8859-1');
    const r = readDte(doc.root);
    expect(r.warnings).toEqual([]);
    expect(r.dte).toStrictEqual(d);
    expect(r.id).toBe(idOf(d));
    expect(r.tmstFirma).toBe(TMST);
    expect(r.ted?.local).toBe('TED');
    expect(r.signature?.local).toBe('Signature');
    expect(r.documento.local).toBe(tipo === 43 ? 'Liquidacion' : tipo >= 110 ? 'Exportaciones' : 'Documento');
  });
});

// ---------------------------------------------------------------------------------------------
// (c) lengths, Latin-1, mandatory fields, branch checks
// ---------------------------------------------------------------------------------------------

describe('schema lengths and Latin-1', () => {
  const tenLines = (): Dte => {
    const d = exenta34();
    d.detalle = Array.from({ length: 10 }, (_, i) => ({ nroLinDet: i + 1, nmbItem: `Servicio ${i + 1}`, montoItem: 10000 }));
    return d;
  };

  it('ERR_FIELD_TOO_LONG names the model path, the limit and the length', () => {
    const d = tenLines();
    d.detalle[3]!.nmbItem = 'x'.repeat(81);
    const e = caught(() => writeDocumento(d, optsFor(d)));
    expect(e.code).toBe('ERR_FIELD_TOO_LONG');
    expect(e.field).toBe('detalle[3].nmbItem');
    expect(e.expected).toBe(80);
    expect(e.actual).toBe(81);
    d.detalle[3]!.nmbItem = 'x'.repeat(80);
    expect(() => writeDocumento(d, optsFor(d))).not.toThrow();
  });

  it('checks lengths of nested and branch-specific fields', () => {
    const d = factura33();
    d.encabezado.receptor.giroRecep = 'g'.repeat(41);
    expect(caught(() => writeDocumento(d, optsFor(d)))).toMatchObject({ code: 'ERR_FIELD_TOO_LONG', field: 'encabezado.receptor.giroRecep', expected: 40 });
    const b = boleta39();
    b.encabezado.emisor.giroEmis = 'g'.repeat(81);
    expect(caught(() => writeDocumento(b, optsFor(b)))).toMatchObject({ code: 'ERR_FIELD_TOO_LONG', field: 'encabezado.emisor.giroEmis', expected: 80 });
    const c = factura33();
    c.encabezado.emisor.telefono = ['1'.repeat(21)];
    expect(caught(() => writeDocumento(c, optsFor(c)))).toMatchObject({ code: 'ERR_FIELD_TOO_LONG', field: 'encabezado.emisor.telefono[0]', expected: 20 });
  });

  it('counts length after Latin-1 replacement', () => {
    const d = exenta34();
    d.detalle[0]!.nmbItem = `${'x'.repeat(79)}\u2026`; // 80 characters, 82 once … becomes ...
    expect(caught(() => writeDocumento(d, optsFor(d)))).toMatchObject({ code: 'ERR_FIELD_TOO_LONG', field: 'detalle[0].nmbItem', expected: 80, actual: 82 });
  });

  it('refuses an emoji with both policies, naming the field', () => {
    const d = exenta34();
    d.detalle[0]!.dscItem = 'Servicio premium \u{1F680}';
    for (const nonLatin1 of ['replace', 'refuse'] as const) {
      const e = caught(() => writeDocumento(d, { ...optsFor(d), nonLatin1 }));
      expect(e.code).toBe('ERR_CHAR_NOT_LATIN1');
      expect(e.field).toBe('detalle[0].dscItem');
    }
  });

  it('replaces curly quotes and dashes by default, refuses them with refuse', () => {
    const d = exenta34();
    d.encabezado.receptor.rznSocRecep = '\u201CLa Pérgola\u201D \u2013 O\u2019Higgins';
    const text = writeDocumento(d, optsFor(d));
    expect(text).toContain('<RznSocRecep>"La Pérgola" - O\'Higgins</RznSocRecep>');
    const e = caught(() => writeDocumento(d, { ...optsFor(d), nonLatin1: 'refuse' }));
    expect(e).toMatchObject({ code: 'ERR_CHAR_NOT_LATIN1', field: 'encabezado.receptor.rznSocRecep' });
  });

  it('keeps Ñ and accented letters as single Latin-1 characters', () => {
    const d = exenta34();
    d.encabezado.receptor.rznSocRecep = 'Ñandú Ñuñoa Ávila';
    const xml = writeFull(d);
    expect(xml).toContain('<RznSocRecep>Ñandú Ñuñoa Ávila</RznSocRecep>');
    const bytes = Buffer.from(xml, 'latin1');
    expect(bytes.includes(Buffer.from([0xd1, 0x61, 0x6e, 0x64, 0xfa]))).toBe(true); // "Ñandú" in ISO-8859-1
    expect(bytes.toString('latin1')).toBe(xml);
  });
});

describe('mandatory elements, XSD types and branch rules', () => {
  it('ERR_INPUT_INVALID for a missing mandatory element, naming it', () => {
    const d = factura33();
    delete (d.encabezado.emisor as { giroEmis?: string }).giroEmis;
    expect(caught(() => writeDocumento(d, optsFor(d)))).toMatchObject({ code: 'ERR_INPUT_INVALID', field: 'encabezado.emisor.giroEmis' });
    const e = factura33();
    e.detalle = [];
    expect(caught(() => writeDocumento(e, optsFor(e)))).toMatchObject({ code: 'ERR_INPUT_INVALID', field: 'detalle' });
    const f = factura33();
    f.encabezado.emisor.acteco = [];
    expect(caught(() => writeDocumento(f, optsFor(f)))).toMatchObject({ code: 'ERR_INPUT_INVALID', field: 'encabezado.emisor.acteco' });
  });

  it('enforces what a branch makes mandatory although the model does not', () => {
    const l = liquidacion43();
    delete l.encabezado.emisor.dirOrigen;
    expect(caught(() => writeDocumento(l, optsFor(l)))).toMatchObject({ code: 'ERR_INPUT_INVALID', field: 'encabezado.emisor.dirOrigen' });
    const l2 = liquidacion43();
    delete l2.detalle[1]!.tpoDocLiq;
    expect(caught(() => writeDocumento(l2, optsFor(l2)))).toMatchObject({ code: 'ERR_INPUT_INVALID', field: 'detalle[1].tpoDocLiq' });
    const x = exportacion(110, 8);
    delete x.encabezado.totales.tpoMoneda;
    expect(caught(() => writeDocumento(x, optsFor(x)))).toMatchObject({ code: 'ERR_INPUT_INVALID', field: 'encabezado.totales.tpoMoneda' });
    const b = boleta41();
    delete b.encabezado.idDoc.indServicio;
    expect(caught(() => writeDocumento(b, optsFor(b)))).toMatchObject({ code: 'ERR_INPUT_INVALID', field: 'encabezado.idDoc.indServicio' });
  });

  it('refuses model properties the document type has no element for', () => {
    const l = liquidacion43();
    l.dscRcgGlobal = [{ nroLinDr: 1, tpoMov: 'D', tpoValor: '%', valorDr: 5 }];
    expect(caught(() => writeDocumento(l, optsFor(l)))).toMatchObject({ code: 'ERR_INPUT_INVALID', field: 'dscRcgGlobal' });
    const b = boleta39();
    b.referencia![0]!.codRef = 1;
    expect(caught(() => writeDocumento(b, optsFor(b)))).toMatchObject({ code: 'ERR_INPUT_INVALID', field: 'referencia[0].codRef' });
    const f = factura33();
    f.encabezado.receptor.telefonoRecep = '+56911111111';
    expect(caught(() => writeDocumento(f, optsFor(f)))).toMatchObject({ code: 'ERR_INPUT_INVALID', field: 'encabezado.receptor.telefonoRecep' });
    const x = exportacion(110, 8);
    x.encabezado.totales.mntNeto = 100;
    expect(caught(() => writeDocumento(x, optsFor(x)))).toMatchObject({ code: 'ERR_INPUT_INVALID', field: 'encabezado.totales.mntNeto' });
  });

  it('refuses values outside the XSD types', () => {
    const cases: [(d: Dte) => void, string][] = [
      [(d) => (d.detalle[0]!.montoItem = 10.5), 'detalle[0].montoItem'], // MontoType is an integer
      [(d) => (d.detalle[0]!.montoItem = -1), 'detalle[0].montoItem'], // negative only in 43
      [(d) => (d.detalle[0]!.prcItem = 0), 'detalle[0].prcItem'], // Dec12_6 ≥ 0.000001
      [(d) => (d.encabezado.idDoc.fchEmis = '2025-02-30'), 'encabezado.idDoc.fchEmis'],
      [(d) => (d.encabezado.idDoc.fchEmis = '04-03-2025'), 'encabezado.idDoc.fchEmis'],
      [(d) => (d.encabezado.idDoc.fmaPago = 4 as 1), 'encabezado.idDoc.fmaPago'],
      [(d) => (d.encabezado.idDoc.indServicio = 4), 'encabezado.idDoc.indServicio'], // 1..3 in Documento
      [(d) => (d.detalle[0]!.descuentoPct = 1000), 'detalle[0].descuentoPct'],
      [(d) => (d.detalle[0]!.nroLinDet = 100), 'detalle[0].nroLinDet'],
      [(d) => (d.detalle = Array.from({ length: 61 }, (_, i) => ({ nroLinDet: (i % 99) + 1, nmbItem: 'x', montoItem: 1 }))), 'detalle'],
    ];
    for (const [mutate, field] of cases) {
      const d = exenta34();
      mutate(d);
      expect(caught(() => writeDocumento(d, optsFor(d))), field).toMatchObject({ code: 'ERR_INPUT_INVALID', field });
    }
    const r = exenta34();
    r.encabezado.receptor.rutRecep = '77.894.717-k';
    expect(caught(() => writeDocumento(r, optsFor(r)))).toMatchObject({ code: 'ERR_RUT_INVALID', field: 'encabezado.receptor.rutRecep' });
  });

  it('checks the options: unsupported type, xs:ID, timestamp, TED', () => {
    const d = exenta34();
    expect(caught(() => writeDocumento(d, { ...optsFor(d), id: '33F1' }))).toMatchObject({ code: 'ERR_INPUT_INVALID', field: 'id' });
    expect(caught(() => writeDocumento(d, { ...optsFor(d), tmstFirma: '2025-03-04 10:11:12' }))).toMatchObject({ code: 'ERR_INPUT_INVALID', field: 'tmstFirma' });
    expect(caught(() => writeDocumento(d, { ...optsFor(d), tedXml: '' }))).toMatchObject({ code: 'ERR_INPUT_INVALID', field: 'tedXml' });
    d.encabezado.idDoc.tipoDte = 30 as TipoDte;
    expect(caught(() => writeDocumento(d, optsFor(d)))).toMatchObject({ code: 'ERR_INPUT_INVALID', field: 'encabezado.idDoc.tipoDte' });
  });
});

// ---------------------------------------------------------------------------------------------
// (e) the written text is its own C14N
// ---------------------------------------------------------------------------------------------

describe('the written Documento is already canonical (xmllint --c14n)', () => {
  it.each([...TIPOS_DTE])('type %i', (tipo) => {
    const d = MODELS[tipo]();
    const text = writeDocumento(d, optsFor(d));
    // Also check that it parses inside <DTE> (well-formed, namespace inherited).
    const wrapped = parseXml(`<DTE xmlns="${NS}" version="1.0">${text}</DTE>`);
    expect(wrapped.root.children.find((c) => c.type === 'element')).toMatchObject({ uri: NS });
    const root = text.slice(1, text.indexOf(' '));
    const withNs = `<${root} xmlns="${NS}"${text.slice(root.length + 1)}`;
    const file = join(dir, `c14n-${tipo}.xml`);
    writeFileSync(file, Buffer.from(`<?xml version="1.0" encoding="ISO-8859-1"?>\n${withNs}`, 'latin1'));
    const r = xmllint(['--c14n', file]);
    expect(r.status).toBe(0);
    expect(r.out).toBe(withNs);
  });

  it('a CR in text survives as &#xD; and the comparison is not vacuous', () => {
    const d = factura33();
    const text = writeDocumento(d, optsFor(d));
    expect(text).toContain('Incluye maletín &amp; brocas &lt;6 mm&gt; "profesional" \'x\'&#xD;\nGarantía 12 meses');
    // A non-canonical variant (self-closing empty element, attribute quoting) is changed by xmllint.
    const file = join(dir, 'c14n-negative.xml');
    const variant = `<Documento xmlns="${NS}" ID='T1'><A/></Documento>`;
    writeFileSync(file, variant);
    expect(execFileSync(XMLLINT, ['--c14n', file]).toString('utf8')).not.toBe(variant);
  });
});
