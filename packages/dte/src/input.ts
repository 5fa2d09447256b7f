/**
 * The JSON input format of `timbre dte build INPUT.json` and of the HTTP API: the api-contract.md
 * document shape (Spanish snake_case keys) plus the richer SII fields under descriptive names.
 *
 *   parseDteInput(json)  → DteInput        structure and types (zod), errors with input paths
 *   inputToDte(input)    → Dte             normalize, compute totals, check stated totals, rules
 *   dteInputJsonSchema() → JSON Schema     draft 2020-12, committed as schemas/dte-input.schema.json
 *
 * Per-type requirements (what a 52 or a 110 must carry) are rules (rules.ts), not schema: the
 * schema says what each field is, the rules say which type needs it.
 */
import { z } from 'zod';
import { TimbreError, TimbreValidationError } from './errors.js';
import type {
  Aduana,
  CdgItem,
  Comision,
  Detalle,
  DscRcgGlobal,
  Dte,
  ImptoReten,
  Receptor,
  Referencia,
  Totales,
  Transporte,
} from './model.js';
import { Rut } from './rut.js';
import { TIPOS_DTE, isBoleta, isExenta, isExportacion, type TipoDte } from './tipos.js';
import { toLatin1Text, type NonLatin1Policy } from './xml/text.js';
import { IMPUESTOS_ADICIONALES, TOTALES_INPUT_KEYS, checkStatedLineTotals, checkStatedTotals, computeTotals, type StatedLine } from './totals.js';
import { validateDte } from './rules.js';
import { formatDecimal } from './amounts.js';

// ------------------------------------------------------------------------------------------------
// Schema
// ------------------------------------------------------------------------------------------------

/** Canonical `76086428-5` or dotted `76.086.428-5`; lower-case k accepted. */
const RUT_INPUT_PATTERN = /^(?:[0-9]{1,8}|[0-9]{1,2}(?:\.[0-9]{3}){2})-[0-9Kk]$/;

const d = (description: string) => ({ description });

const rut = (description: string) =>
  z
    .string({ error: 'expected a RUT string like "76086428-5"' })
    .regex(RUT_INPUT_PATTERN, { error: 'a RUT looks like 76086428-5 (digits, hyphen, check digit 0-9 or K)' })
    .refine((v) => !RUT_INPUT_PATTERN.test(v) || Rut.isValid(v), { error: 'the RUT check digit is wrong' })
    .meta(d(description));

const text = (description: string) => z.string().min(1, { error: 'must not be empty' }).meta(d(description));
const date = (description: string) => z.iso.date({ error: 'expected a date YYYY-MM-DD' }).meta(d(description));
const amount = (description: string) => z.number({ error: 'expected a number' }).meta(d(description));
const nonNegative = (description: string) => z.number({ error: 'expected a number' }).min(0).meta(d(description));
const positive = (description: string) => z.number({ error: 'expected a number' }).positive().meta(d(description));
const int = (min: number, max: number, description: string) => z.number({ error: 'expected an integer' }).int().min(min).max(max).meta(d(description));
const pct = (description: string) => z.number({ error: 'expected a percentage' }).positive().max(999.99).meta(d(description));

/** TipMonType (SiiTypes_v10.xsd): currencies of the Aduana table. */
export const MONEDAS = [
  'BOLIVAR', 'BOLIVIANO', 'CHELIN', 'CORONA DIN', 'CORONA NOR', 'CORONA SC', 'CRUZEIRO REAL', 'DIRHAM', 'DOLAR AUST', 'DOLAR CAN',
  'DOLAR HK', 'DOLAR NZ', 'DOLAR SIN', 'DOLAR TAI', 'DOLAR USA', 'DRACMA', 'ESCUDO', 'EURO', 'FLORIN', 'FRANCO BEL', 'FRANCO FR',
  'FRANCO SZ', 'GUARANI', 'LIBRA EST', 'LIRA', 'MARCO AL', 'MARCO FIN', 'NUEVO SOL', 'OTRAS MONEDAS', 'PESETA', 'PESO', 'PESO CL',
  'PESO COL', 'PESO MEX', 'PESO URUG', 'RAND', 'RENMINBI', 'RUPIA', 'SUCRE', 'YEN',
] as const;
const moneda = (description: string) => z.enum(MONEDAS, { error: `expected one of the Aduana currency names (${MONEDAS.slice(0, 3).join(', ')}, …, DOLAR USA, EURO, PESO CL, …)` }).meta(d(description));

const codigoItem = z
  .strictObject({
    tipo: text('Code type (TpoCodigo), e.g. INT1, EAN13, PLU, CPCS'),
    valor: text('Code value (VlrCodigo)'),
  })
  .meta(d('An item code (CdgItem)'));

const tiposDteStr = TIPOS_DTE.map(String) as [string, ...string[]];

const emisorSchema = z
  .strictObject({
    rut: rut('Issuer RUT (RUTEmisor)'),
    razon_social: text('Issuer legal name (RznSoc; boletas RznSocEmisor)'),
    giro: text('Issuer line of business (GiroEmis; boletas GiroEmisor)'),
    direccion: text('Issuer address, origin of the goods or issuing branch (DirOrigen)'),
    comuna: text('Issuer commune (CmnaOrigen)'),
    ciudad: text('Issuer city (CiudadOrigen)').optional(),
    acteco: z
      .array(int(1, 999_999, 'Six-digit SII economic activity code (Acteco)'))
      .min(1)
      .max(4)
      .optional()
      .meta(d('1 to 4 economic activity codes (Acteco); mandatory except in boletas, which ignore them')),
    telefono: z.union([z.string().min(1), z.array(z.string().min(1)).min(1).max(2)]).optional().meta(d('Issuer phone(s), at most 2 (Telefono)')),
    correo: text('Issuer e-mail (CorreoEmisor)').optional(),
    sucursal: text('Branch name (Sucursal)').optional(),
    codigo_sucursal: int(1, 999_999_999, 'SII branch code (CdgSIISucur)').optional(),
    codigo_vendedor: text('Seller code (CdgVendedor)').optional(),
    rut_proveedor_software: rut('Boletas: RUT of the software provider (RUTProvSW); ignored by other types').optional(),
  })
  .meta(d('The issuer (Emisor)'));

const receptorSchema = z
  .strictObject({
    rut: rut('Receptor RUT (RUTRecep). 66666666-6 = generic buyer (boletas only); 55555555-5 = foreign buyer (exports)'),
    razon_social: text('Receptor legal name (RznSocRecep); mandatory except in boletas').optional(),
    giro: text('Receptor line of business (GiroRecep)').optional(),
    direccion: text('Receptor address (DirRecep); in exports the address abroad').optional(),
    comuna: text('Receptor commune (CmnaRecep)').optional(),
    ciudad: text('Receptor city (CiudadRecep)').optional(),
    contacto: text('Contact name and phone at the receptor (Contacto)').optional(),
    correo: text('Receptor e-mail (CorreoRecep)').optional(),
    telefono: text('Boletas: receptor phone (TelefonoRecep)').optional(),
    codigo_interno: text('Internal customer code (CdgIntRecep)').optional(),
    extranjero: z
      .strictObject({
        numero_id: text('Foreign identification number (NumId)').optional(),
        nacionalidad: text('Nationality, Aduana country code (Nacionalidad)').optional(),
      })
      .optional()
      .meta(d('Foreign receptor (Extranjero)')),
    direccion_postal: text('Postal address (DirPostal)').optional(),
    comuna_postal: text('Postal commune (CmnaPostal)').optional(),
    ciudad_postal: text('Postal city (CiudadPostal)').optional(),
  })
  .meta(d('The receptor (Receptor)'));

const aduanaSchema = z
  .strictObject({
    modalidad_venta: int(1, 99, 'Sale modality, Aduana table (CodModVenta)').optional(),
    clausula_venta: int(1, 99, 'Sale clause, Aduana table, e.g. 1 CIF, 2 CFR, 5 FOB (CodClauVenta)').optional(),
    total_clausula_venta: nonNegative('Total value under the sale clause (TotClauVenta)').optional(),
    via_transporte: int(1, 99, 'Transport way, Aduana table (CodViaTransp)').optional(),
    nombre_transporte: text('Name of the ship or means of transport (NombreTransp)').optional(),
    rut_compania_transporte: rut('RUT of the carrier (RUTCiaTransp)').optional(),
    nombre_compania_transporte: text('Carrier name (NomCiaTransp)').optional(),
    id_adicional_transporte: text('Carrier additional id (IdAdicTransp)').optional(),
    booking: text('Booking number (Booking)').optional(),
    operador: text('Operator code (Operador)').optional(),
    puerto_embarque: int(1, 9999, 'Port of shipment, Aduana table (CodPtoEmbarque)').optional(),
    id_adicional_puerto_embarque: text('Port of shipment additional id (IdAdicPtoEmb)').optional(),
    puerto_desembarque: int(1, 9999, 'Port of unloading, Aduana table (CodPtoDesemb)').optional(),
    id_adicional_puerto_desembarque: text('Port of unloading additional id (IdAdicPtoDesemb)').optional(),
    tara: nonNegative('Tare (Tara)').optional(),
    unidad_tara: int(1, 99, 'Unit of the tare, Aduana table (CodUnidMedTara)').optional(),
    peso_bruto: nonNegative('Total gross weight (PesoBruto)').optional(),
    unidad_peso_bruto: int(1, 99, 'Unit of the gross weight (CodUnidPesoBruto)').optional(),
    peso_neto: nonNegative('Total net weight (PesoNeto)').optional(),
    unidad_peso_neto: int(1, 99, 'Unit of the net weight (CodUnidPesoNeto)').optional(),
    total_items: int(1, 999_999, 'Total items (TotItems)').optional(),
    total_bultos: int(1, 999_999_999, 'Total packages (TotBultos)').optional(),
    bultos: z
      .array(
        z.strictObject({
          tipo: int(1, 999, 'Package type, Aduana table (CodTpoBultos)'),
          cantidad: int(1, 999_999_999, 'Number of packages of this type (CantBultos)'),
          marcas: text('Marks (Marcas)').optional(),
          id_contenedor: text('Container id (IdContainer)').optional(),
          sello: text('Seal (Sello)').optional(),
          emisor_sello: text('Seal issuer (EmisorSello)').optional(),
        }),
      )
      .max(10)
      .optional()
      .meta(d('Packages by type (TipoBultos)')),
    flete: positive('Freight, in the document currency (MntFlete)').optional(),
    seguro: positive('Insurance, in the document currency (MntSeguro)').optional(),
    pais_receptor: text('Receptor country, Aduana table (CodPaisRecep)').optional(),
    pais_destino: text('Destination country, Aduana table (CodPaisDestin)').optional(),
  })
  .meta(d('Export customs data (Transporte/Aduana)'));

const transporteSchema = z
  .strictObject({
    patente: text('Vehicle plate (Patente)').optional(),
    rut_transportista: rut('Carrier RUT (RUTTrans)').optional(),
    chofer: z
      .strictObject({ rut: rut('Driver RUT (RUTChofer)'), nombre: text('Driver name (NombreChofer)') })
      .optional()
      .meta(d('Driver (Chofer)')),
    direccion_destino: text('Destination address (DirDest)').optional(),
    comuna_destino: text('Destination commune (CmnaDest); mandatory in guías').optional(),
    ciudad_destino: text('Destination city (CiudadDest)').optional(),
    aduana: aduanaSchema.optional(),
  })
  .meta(d('Transport (Transporte)'));

const itemSchema = z
  .strictObject({
    numero_linea: int(1, 1000, 'Line number (NroLinDet); informative: lines are numbered in array order').optional(),
    codigo: z
      .union([z.string().min(1), codigoItem, z.array(codigoItem).min(1).max(5)])
      .optional()
      .meta(d('Item code: a string (internal code INT1), {tipo, valor}, or up to 5 of them (CdgItem)')),
    nombre: text('Item name (NmbItem)'),
    descripcion: text('Item description (DscItem)').optional(),
    cantidad: positive('Quantity (QtyItem)').optional(),
    unidad: text('Unit of measure (UnmdItem)').optional(),
    precio_unitario: nonNegative('Unit price (PrcItem); net unless montos_brutos, in the document currency for exports').optional(),
    descuento_pct: z.number().min(0).max(100).optional().meta(d('Line discount in % of quantity × price (DescuentoPct); 0 = none')),
    descuento_monto: nonNegative('Line discount amount (DescuentoMonto); checked against descuento_pct when both are given').optional(),
    recargo_pct: z.number().min(0).max(999.99).optional().meta(d('Line surcharge in % of quantity × price (RecargoPct); 0 = none')),
    recargo_monto: nonNegative('Line surcharge amount (RecargoMonto); checked against recargo_pct when both are given').optional(),
    exento: z.boolean().optional().meta(d('true: the item is exempt (IndExe 1). Lines of 34, 41 and exports are exempt by default')),
    indicador_exencion: int(1, 6, 'IndExe: 1 exempt, 2 not billable, 3 container deposit, 4 non-sale item, 5 item to subtract (guías), 6 negative not billable').optional(),
    impuesto_adicional: z
      .union([int(1, 999, 'Code'), z.array(int(1, 999, 'Code')).min(1).max(2)])
      .optional()
      .meta(d('Additional tax or retention code(s) of the line, at most 2 (CodImpAdic), e.g. 27 soft drinks, 15 IVA retenido total')),
    retenedor: z
      .union([
        z.boolean(),
        z.strictObject({
          monto_base_faenamiento: nonNegative('MntBaseFaena').optional(),
          margen_comercializacion: nonNegative('MntMargComer').optional(),
          precio_consumidor_final: nonNegative('PrcConsFinal').optional(),
        }),
      ])
      .optional()
      .meta(d('The issuer acts as retention agent for this item (Retenedor, IndAgente R)')),
    tipo_documento_liquidado: z.union([z.string().min(1).max(3), int(1, 999, 'Type')]).optional().meta(d('43 only: type of the liquidated document (TpoDocLiq), e.g. 33, 30, 35, 99')),
    fecha_elaboracion: date('Manufacture date (FchElabor)').optional(),
    fecha_vencimiento: date('Expiry date (FchVencim)').optional(),
    cantidad_referencia: positive('Reference quantity (QtyRef)').optional(),
    unidad_referencia: text('Reference unit (UnmdRef)').optional(),
    precio_referencia: positive('Reference price (PrcRef)').optional(),
    monto_total: amount('Line amount (MontoItem). With precio_unitario it is checked against quantity × price − discount + surcharge; without it, it is the line amount (may be negative in 43)').optional(),
  })
  .meta(d('A line (Detalle)'));

const dscRcgSchema = z
  .strictObject({
    tipo: z.enum(['D', 'R']).meta(d('D discount, R surcharge (TpoMov)')),
    glosa: text('Description (GlosaDR)').optional(),
    tipo_valor: z.enum(['%', '$']).meta(d('% of the lines it applies to, or $ amount (TpoValor)')),
    valor: positive('Percentage or amount (ValorDR)'),
    exento: z.boolean().optional().meta(d('true: applies to the exempt lines (IndExeDR 1); default: the affected lines')),
    indicador_exencion: z.union([z.literal(1), z.literal(2)]).optional().meta(d('IndExeDR: 1 exempt lines, 2 non-billable lines')),
    valor_otra_moneda: positive('Value in another currency (ValorDROtrMnda)').optional(),
  })
  .meta(d('A global discount or surcharge (DscRcgGlobal)'));

const impuestoSchema = z
  .strictObject({
    codigo: int(1, 999, 'Tax code (TipoImp), SII table (FMT §4)'),
    tasa: z.number().min(0).max(999.99).optional().meta(d('Rate in % (TasaImp); default: the legal rate of the code')),
    monto: amount('Amount (MontoImp): mandatory for specific taxes and margins (14, 17, 28, 35, 50–53); otherwise checked against rate × lines').optional(),
  })
  .meta(d('An additional tax or a retention (ImptoReten). A code no line carries applies to every affected line'));

const comisionSchema = z
  .strictObject({
    tipo: z.enum(['C', 'O']).meta(d('C commission, O other charge (TipoMovim)')),
    glosa: text('Description (Glosa)'),
    tasa: pct('Commission rate in % (TasaComision), informative').optional(),
    valor_neto: amount('Net value (ValComNeto); negative only in 43').optional(),
    valor_exento: amount('Exempt value (ValComExe); negative only in 43').optional(),
    valor_iva: amount('IVA of the commission (ValComIVA); default round(valor_neto × 19 %), checked when given').optional(),
  })
  .meta(d('A commission or other charge (Comisiones): 43, and optionally 46 and its notes'));

const referenciaSchema = z
  .strictObject({
    numero_linea: int(1, 99, 'Reference number (NroLinRef); informative: references are numbered in array order').optional(),
    tipo_documento: z
      .union([z.string().min(1).max(3), int(1, 999, 'Type')])
      .optional()
      .meta(d('Referenced document type (TpoDocRef): a DTE type, 801 orden de compra, 802…820, or free text such as SET')),
    folio: z.union([z.string().min(1).max(18), int(0, 999_999_999_999, 'Folio')]).optional().meta(d('Referenced folio (FolioRef); 0 only with global')),
    fecha: date('Date of the referenced document (FchRef)').optional(),
    codigo: z
      .union([z.literal(1), z.literal(2), z.literal(3), z.string().min(1).max(18)])
      .optional()
      .meta(d('CodRef: 1 anula, 2 corrige texto, 3 corrige montos (mandatory in notes). Boletas: free text, e.g. SET')),
    razon: text('Reason (RazonRef)').optional(),
    rut_otro: rut('RUT of the other issuer of the referenced document (RUTOtr)').optional(),
    global: z.boolean().optional().meta(d('References all documents of that type, folio 0 (IndGlobal 1)')),
  })
  .meta(d('A reference to another document (Referencia)'));

const stated = (what: string) => amount(`${what}, as the client computed it; checked against the lines`).optional();
const totalesSchema = z
  .strictObject({
    monto_neto: stated('Net amount (MntNeto)'),
    monto_exento: stated('Exempt amount (MntExe)'),
    tasa_iva: stated('IVA rate (TasaIVA)'),
    iva: stated('IVA (IVA)'),
    iva_propio: stated('43: own IVA of the commissions (IVAProp)'),
    iva_terceros: stated('43: third-party IVA (IVATerc)'),
    iva_no_retenido: stated('IVA not retained (IVANoRet)'),
    credito_empresas_constructoras: stated('Construction companies credit (CredEC)'),
    garantia_deposito: stated('Container deposit guarantee (GrntDep)'),
    monto_total: stated('Total (MntTotal)'),
    monto_no_facturable: stated('Non-billable amount (MontoNF)'),
    monto_periodo: stated('Period amount (MontoPeriodo)'),
    total_periodo: stated('Boletas: period total (TotalPeriodo)'),
  })
  .meta(d('Totals the client computed (optional): when given they are checked against the lines and the document is rejected if they differ'));

const otraMonedaSchema = z
  .strictObject({
    moneda: moneda('Currency of the conversion (TpoMoneda): PESO CL for exports').optional(),
    tipo_cambio: positive('Exchange rate, pesos per unit of the document currency (TpoCambio), at most 4 decimals'),
  })
  .meta(d('Conversion of an export document to Chilean pesos (OtraMoneda), mandatory since 2017; amounts are computed'));

export const dteInputSchema = z
  .strictObject({
    dte_type: z
      .union([z.enum(tiposDteStr), z.literal([...TIPOS_DTE])], { error: `dte_type must be one of ${TIPOS_DTE.join(', ')}` })
      .meta(d('Document type (TipoDTE): 33 factura, 34 factura exenta, 39 boleta, 41 boleta exenta, 43 liquidación-factura, 46 factura de compra, 52 guía de despacho, 56 nota de débito, 61 nota de crédito, 110/111/112 factura / ND / NC de exportación')),
    folio: int(0, 9_999_999_999, 'Folio; absent or 0: allocated from the CAF').optional(),
    fecha_emision: date('Issue date (FchEmis). Optional: absent, it is the date of the signing time (the CLI\'s --now).').optional(),
    fecha_vencimiento: date('Payment due date (FchVenc)').optional(),
    forma_pago: z.union([z.literal(1), z.literal(2), z.literal(3)]).optional().meta(d('FmaPago: 1 contado, 2 crédito, 3 sin costo')),
    forma_pago_exportacion: int(1, 99, 'Exports: payment form, Aduana table (FmaPagExp), e.g. 1 COB1, 11 ACRED, 21 sin pago, 32 anticipo').optional(),
    medio_pago: z
      .union([z.enum(['CH', 'CF', 'LT', 'EF', 'PE', 'TC', 'OT']), int(1, 5, 'Boleta payment means')])
      .optional()
      .meta(d('MedioPago: CH cheque, CF cheque a fecha, LT letra, EF efectivo, PE pago a cta. cte., TC tarjeta, OT otro; boletas 1–5')),
    fecha_cancelacion: date('Date the document was paid, before issue (FchCancel)').optional(),
    monto_cancelado: nonNegative('Amount paid at issue (MntCancel)').optional(),
    saldo_insoluto: amount('Unpaid balance at issue (SaldoInsol)').optional(),
    pagos: z
      .array(z.strictObject({ fecha: date('Payment date (FchPago)'), monto: nonNegative('Amount (MntPago)'), glosa: text('Description (GlosaPagos)').optional() }))
      .max(30)
      .optional()
      .meta(d('Payment schedule (MntPagos)')),
    terminos_pago: z
      .strictObject({ codigo: text('Code (TermPagoCdg)').optional(), glosa: text('Description (TermPagoGlosa)').optional(), dias: int(1, 999, 'Days (TermPagoDias)').optional() })
      .optional()
      .meta(d('Payment terms')),
    periodo_desde: date('Billing period start (PeriodoDesde)').optional(),
    periodo_hasta: date('Billing period end (PeriodoHasta)').optional(),
    indicador_servicio: int(1, 6, 'IndServicio. Boletas (mandatory): 1 periodic services, 2 periodic home services, 3 sales and services, 4 shows. Facturas: 1–3. Exports: 3 services, 4 hotels, 5 international land transport, 6 services used abroad').optional(),
    indicador_traslado: int(1, 9, 'Guías (mandatory): IndTraslado 1 venta, 2 venta por efectuar, 3 consignación, 4 entrega gratuita, 5 traslado interno, 6 otros no venta, 7 devolución, 8 traslado para exportación, 9 venta para exportación').optional(),
    tipo_despacho: z.union([z.literal(1), z.literal(2), z.literal(3)]).optional().meta(d('TipoDespacho: 1 by the receptor, 2 by the issuer to the customer, 3 by the issuer to other premises')),
    tipo_impresion: z.enum(['N', 'T']).optional().meta(d('Guías: printing format (TpoImpresion) N normal, T ticket')),
    indicador_no_rebaja: z.boolean().optional().meta(d('61 only: credit note without right to reduce the tax debit (IndNoRebaja 1)')),
    montos_brutos: z.boolean().optional().meta(d('Line amounts include IVA. Facturas: MntBruto 1. Boletas 39 are gross by default; false = net lines (IndMntNeto 2)')),
    tipo_transaccion_venta: int(1, 3, 'TpoTranVenta: 1 ventas del giro, 2 activo fijo, 3 bien raíz').optional(),
    tipo_transaccion_compra: int(1, 7, 'TpoTranCompra: suggested purchase type for the buyer, 1–7').optional(),
    emisor: emisorSchema,
    rut_mandante: rut('RUT of the principal when the sale is on its behalf (RUTMandante)').optional(),
    receptor: receptorSchema,
    rut_solicitante: rut('RUT of who requested the invoice (RUTSolicita)').optional(),
    transporte: transporteSchema.optional(),
    moneda: moneda('Exports: currency of the document (TpoMoneda), e.g. DOLAR USA, EURO; every amount of the document is in it').optional(),
    otra_moneda: otraMonedaSchema.optional(),
    items: z.array(itemSchema).min(1, { error: 'a document needs at least one item' }).max(1000).meta(d('Lines (Detalle): at most 60, boletas 1000')),
    descuentos_globales: z.array(dscRcgSchema).max(20).optional().meta(d('Global discounts and surcharges (DscRcgGlobal), at most 20')),
    impuestos_adicionales: z.array(impuestoSchema).max(20).optional().meta(d('Additional taxes (ImptoReten), e.g. [{"codigo": 27}]')),
    retenciones: z.array(impuestoSchema).max(20).optional().meta(d('Retentions (ImptoReten), e.g. [{"codigo": 15}] on a factura de compra; same format as impuestos_adicionales')),
    credito_especial_constructoras: z.boolean().optional().meta(d('Crédito especial 65 % empresas constructoras (CredEC = IVA × 0.65), subtracted from the total')),
    comisiones: z.array(comisionSchema).max(20).optional().meta(d('Commissions and other charges (Comisiones), at most 20')),
    referencias: z.array(referenciaSchema).max(40).optional().meta(d('References (Referencia), at most 40; mandatory in notes 56, 61, 111, 112')),
    totales: totalesSchema.optional(),
  })
  .meta({
    title: 'Timbre DTE input',
    description:
      'A Chilean electronic tax document (DTE) as JSON: the api-contract.md shape. Totals are computed from the lines; stated totals are checked. Spanish SII XML names in parentheses.',
  });

export type DteInput = z.infer<typeof dteInputSchema>;

// ------------------------------------------------------------------------------------------------
// parse
// ------------------------------------------------------------------------------------------------

/** `['items', 0, 'cantidad']` → `items[0].cantidad`. */
export function formatInputPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

/**
 * Validate the JSON shape. Throws TimbreValidationError (ERR_INPUT_INVALID) whose issues carry input
 * paths (`items[0].cantidad`, `emisor.rut`, `referencias[1].codigo`).
 */
export function parseDteInput(json: unknown): DteInput {
  const r = dteInputSchema.safeParse(json);
  if (r.success) return r.data;
  const issues: TimbreError[] = [];
  for (const i of r.error.issues) {
    if (i.code === 'unrecognized_keys') {
      for (const k of i.keys) {
        const field = formatInputPath([...i.path, k]);
        issues.push(new TimbreError('ERR_INPUT_INVALID', `${field}: unknown field`, { field }));
      }
      continue;
    }
    const field = formatInputPath(i.path) || 'input';
    const actual = valueAt(json, i.path);
    issues.push(new TimbreError('ERR_INPUT_INVALID', `${field}: ${i.message}`, { field, ...(actual !== undefined && typeof actual !== 'object' ? { actual } : {}) }));
  }
  throw new TimbreValidationError(issues);
}

function valueAt(root: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let v: unknown = root;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

// ------------------------------------------------------------------------------------------------
// input → Dte
// ------------------------------------------------------------------------------------------------

export interface InputToDteOptions {
  /** Folio allocated by the caller when the input has none (input.folio > 0 wins). */
  folio?: number;
  /** Characters outside ISO-8859-1: replaced from an explicit table (default) or refused. */
  nonLatin1?: NonLatin1Policy;
  /** Issue date (YYYY-MM-DD) for an input without `fecha_emision`: the signing date. */
  fchEmis?: string;
}

/** Where in the input each model element came from (to report rule violations with input paths). */
export interface InputOrigins {
  impuestos: Map<number, string>;
  itemExento: boolean[];
}

/**
 * Normalize (canonical RUTs, Latin-1 text, sequential numbering, exemption defaults), compute the
 * totals from the lines, check the totals the client stated (ERR_TOTALS_MISMATCH with the field and
 * the expected value) and apply the per-type rules (ERR_RULE_VIOLATION). Throws one
 * TimbreValidationError with every problem found, fields in input style.
 *
 * Folio: `input.folio` when > 0, else `opts.folio`, else 0 (the caller allocates it from a CAF).
 */
export function inputToDte(input: DteInput, opts: InputToDteOptions = {}): Dte {
  const policy = opts.nonLatin1 ?? 'replace';
  const issues: TimbreError[] = [];
  const inputError = (field: string, message: string) => issues.push(new TimbreError('ERR_INPUT_INVALID', `${field}: ${message}`, { field }));

  const tipo = Number(input.dte_type) as TipoDte;
  const fchEmis = input.fecha_emision ?? opts.fchEmis ?? '';
  if (!fchEmis) inputError('fecha_emision', 'fecha_emision is required (or a signing date must be given)');
  const boleta = isBoleta(tipo);
  const exp = isExportacion(tipo);

  const txt = (value: string, field: string): string => {
    try {
      return toLatin1Text(value.trim(), field, policy);
    } catch (e) {
      if (e instanceof TimbreError) {
        issues.push(e);
        return value;
      }
      throw e;
    }
  };
  const opt = (value: string | undefined, field: string): string | undefined => (value === undefined ? undefined : txt(value, field));
  const rutOf = (value: string, field: string): string => {
    try {
      return Rut.parse(value, { field }).canonical;
    } catch (e) {
      if (e instanceof TimbreError) {
        issues.push(e);
        return value;
      }
      throw e;
    }
  };
  const optRut = (value: string | undefined, field: string) => (value === undefined ? undefined : rutOf(value, field));
  // Drop undefined members so that the model has no explicit `undefined` keys.
  const clean = <T extends object>(o: T): T => {
    const r = o as Record<string, unknown>;
    for (const k in r) if (r[k] === undefined) delete r[k];
    return o;
  };

  const folio = input.folio !== undefined && input.folio > 0 ? input.folio : opts.folio !== undefined && opts.folio > 0 ? opts.folio : 0;

  // ---- IdDoc ----
  if (input.medio_pago !== undefined && boleta !== (typeof input.medio_pago === 'number')) {
    inputError('medio_pago', boleta ? 'boletas use MedioPago 1–5' : 'MedioPago is one of CH, CF, LT, EF, PE, TC, OT (numbers 1–5 are for boletas)');
  }
  const idDoc: Dte['encabezado']['idDoc'] = clean({
    tipoDte: tipo,
    folio,
    fchEmis,
    indNoRebaja: input.indicador_no_rebaja ? (1 as const) : undefined,
    tipoDespacho: input.tipo_despacho,
    indTraslado: input.indicador_traslado as 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | undefined,
    tpoImpresion: input.tipo_impresion,
    indServicio: input.indicador_servicio,
    mntBruto: !boleta && input.montos_brutos === true ? (1 as const) : undefined,
    indMntNeto: tipo === 39 && input.montos_brutos === false ? (2 as const) : undefined,
    tpoTranCompra: input.tipo_transaccion_compra,
    tpoTranVenta: input.tipo_transaccion_venta,
    fmaPago: input.forma_pago,
    fmaPagExp: input.forma_pago_exportacion,
    fchCancel: input.fecha_cancelacion,
    mntCancel: input.monto_cancelado,
    saldoInsol: input.saldo_insoluto,
    mntPagos: input.pagos?.map((p, i) => clean({ fchPago: p.fecha, mntPago: p.monto, glosaPagos: opt(p.glosa, `pagos[${i}].glosa`) })),
    periodoDesde: input.periodo_desde,
    periodoHasta: input.periodo_hasta,
    medioPago: input.medio_pago === undefined ? undefined : String(input.medio_pago),
    termPagoCdg: opt(input.terminos_pago?.codigo, 'terminos_pago.codigo'),
    termPagoGlosa: opt(input.terminos_pago?.glosa, 'terminos_pago.glosa'),
    termPagoDias: input.terminos_pago?.dias,
    fchVenc: input.fecha_vencimiento,
  });

  // ---- Emisor / Receptor ----
  const em = input.emisor;
  // The emisor block is usually the company's shared configuration: what a boleta's Emisor has no
  // element for (Acteco, Telefono, CorreoEmisor, Sucursal, CdgVendedor — EnvioBOLETA_v11.xsd) is
  // dropped rather than refused. RUTProvSW exists only in boletas and is dropped elsewhere.
  const emisor: Dte['encabezado']['emisor'] = clean({
    rutEmisor: rutOf(em.rut, 'emisor.rut'),
    rznSoc: txt(em.razon_social, 'emisor.razon_social'),
    giroEmis: txt(em.giro, 'emisor.giro'),
    telefono: boleta || em.telefono === undefined ? undefined : (Array.isArray(em.telefono) ? em.telefono : [em.telefono]).map((t, i) => txt(t, `emisor.telefono[${i}]`)),
    correoEmisor: boleta ? undefined : opt(em.correo, 'emisor.correo'),
    acteco: boleta ? [] : (em.acteco ?? []),
    sucursal: boleta ? undefined : opt(em.sucursal, 'emisor.sucursal'),
    cdgSiiSucur: em.codigo_sucursal,
    dirOrigen: txt(em.direccion, 'emisor.direccion'),
    cmnaOrigen: txt(em.comuna, 'emisor.comuna'),
    ciudadOrigen: opt(em.ciudad, 'emisor.ciudad'),
    cdgVendedor: boleta ? undefined : opt(em.codigo_vendedor, 'emisor.codigo_vendedor'),
    rutProvSw: boleta ? optRut(em.rut_proveedor_software, 'emisor.rut_proveedor_software') : undefined,
  });
  const rc = input.receptor;
  const extranjero = rc.extranjero
    ? clean({ numId: opt(rc.extranjero.numero_id, 'receptor.extranjero.numero_id'), nacionalidad: opt(rc.extranjero.nacionalidad, 'receptor.extranjero.nacionalidad') })
    : undefined;
  const receptor: Receptor = clean({
    rutRecep: rutOf(rc.rut, 'receptor.rut'),
    cdgIntRecep: opt(rc.codigo_interno, 'receptor.codigo_interno'),
    // Boletas may omit the name (generic buyer): empty means "not written".
    rznSocRecep: rc.razon_social === undefined ? '' : txt(rc.razon_social, 'receptor.razon_social'),
    extranjero,
    giroRecep: opt(rc.giro, 'receptor.giro'),
    contacto: opt(rc.contacto, 'receptor.contacto'),
    correoRecep: opt(rc.correo, 'receptor.correo'),
    telefonoRecep: opt(rc.telefono, 'receptor.telefono'),
    dirRecep: opt(rc.direccion, 'receptor.direccion'),
    cmnaRecep: opt(rc.comuna, 'receptor.comuna'),
    ciudadRecep: opt(rc.ciudad, 'receptor.ciudad'),
    dirPostal: opt(rc.direccion_postal, 'receptor.direccion_postal'),
    cmnaPostal: opt(rc.comuna_postal, 'receptor.comuna_postal'),
    ciudadPostal: opt(rc.ciudad_postal, 'receptor.ciudad_postal'),
  });

  // ---- Transporte ----
  let transporte: Transporte | undefined;
  if (input.transporte) {
    const t = input.transporte;
    const a = t.aduana;
    const aduana: Aduana | undefined = a
      ? clean({
          codModVenta: a.modalidad_venta,
          codClauVenta: a.clausula_venta,
          totClauVenta: a.total_clausula_venta,
          codViaTransp: a.via_transporte,
          nombreTransp: opt(a.nombre_transporte, 'transporte.aduana.nombre_transporte'),
          rutCiaTransp: optRut(a.rut_compania_transporte, 'transporte.aduana.rut_compania_transporte'),
          nomCiaTransp: opt(a.nombre_compania_transporte, 'transporte.aduana.nombre_compania_transporte'),
          idAdicTransp: opt(a.id_adicional_transporte, 'transporte.aduana.id_adicional_transporte'),
          booking: opt(a.booking, 'transporte.aduana.booking'),
          operador: opt(a.operador, 'transporte.aduana.operador'),
          codPtoEmbarque: a.puerto_embarque,
          idAdicPtoEmb: opt(a.id_adicional_puerto_embarque, 'transporte.aduana.id_adicional_puerto_embarque'),
          codPtoDesemb: a.puerto_desembarque,
          idAdicPtoDesemb: opt(a.id_adicional_puerto_desembarque, 'transporte.aduana.id_adicional_puerto_desembarque'),
          tara: a.tara,
          codUnidMedTara: a.unidad_tara,
          pesoBruto: a.peso_bruto,
          codUnidPesoBruto: a.unidad_peso_bruto,
          pesoNeto: a.peso_neto,
          codUnidPesoNeto: a.unidad_peso_neto,
          totItems: a.total_items,
          totBultos: a.total_bultos,
          tipoBultos: a.bultos?.map((b, i) =>
            clean({
              codTpoBultos: b.tipo,
              cantBultos: b.cantidad,
              marcas: opt(b.marcas, `transporte.aduana.bultos[${i}].marcas`),
              idContainer: opt(b.id_contenedor, `transporte.aduana.bultos[${i}].id_contenedor`),
              sello: opt(b.sello, `transporte.aduana.bultos[${i}].sello`),
              emisorSello: opt(b.emisor_sello, `transporte.aduana.bultos[${i}].emisor_sello`),
            }),
          ),
          mntFlete: a.flete,
          mntSeguro: a.seguro,
          codPaisRecep: opt(a.pais_receptor, 'transporte.aduana.pais_receptor'),
          codPaisDestin: opt(a.pais_destino, 'transporte.aduana.pais_destino'),
        })
      : undefined;
    transporte = clean({
      patente: opt(t.patente, 'transporte.patente'),
      rutTrans: optRut(t.rut_transportista, 'transporte.rut_transportista'),
      chofer: t.chofer ? { rutChofer: rutOf(t.chofer.rut, 'transporte.chofer.rut'), nombreChofer: txt(t.chofer.nombre, 'transporte.chofer.nombre') } : undefined,
      dirDest: opt(t.direccion_destino, 'transporte.direccion_destino'),
      cmnaDest: opt(t.comuna_destino, 'transporte.comuna_destino'),
      ciudadDest: opt(t.ciudad_destino, 'transporte.ciudad_destino'),
      aduana,
    });
  }

  // ---- Detalle ----
  const origins: InputOrigins = { impuestos: new Map(), itemExento: [] };
  const statedLines: StatedLine[] = [];
  const detalle: Detalle[] = input.items.map((it, i) => {
    const F = `items[${i}]`;
    let indExe: Detalle['indExe'];
    if (it.indicador_exencion !== undefined) {
      indExe = it.indicador_exencion as Detalle['indExe'];
      if (it.exento === true && it.indicador_exencion !== 1) inputError(`${F}.exento`, `exento: true contradicts indicador_exencion ${it.indicador_exencion}`);
      if (it.exento === false && it.indicador_exencion === 1) inputError(`${F}.exento`, 'exento: false contradicts indicador_exencion 1');
    } else if (it.exento !== undefined) {
      indExe = it.exento ? 1 : undefined;
    } else if (isExenta(tipo)) {
      // 34, 41, exports: the line amount is the exempt amount (FMT B.38 note 11); written IndExe 1.
      indExe = 1;
    }
    origins.itemExento[i] = it.indicador_exencion !== undefined;
    const codes = it.impuesto_adicional === undefined ? undefined : Array.isArray(it.impuesto_adicional) ? it.impuesto_adicional : [it.impuesto_adicional];
    for (const c of codes ?? []) if (!origins.impuestos.has(c)) origins.impuestos.set(c, `${F}.impuesto_adicional`);
    const cdgItem: CdgItem[] | undefined =
      it.codigo === undefined
        ? undefined
        : typeof it.codigo === 'string'
          ? [{ tpoCodigo: 'INT1', vlrCodigo: txt(it.codigo, `${F}.codigo`) }]
          : (Array.isArray(it.codigo) ? it.codigo : [it.codigo]).map((c, j) => ({
              tpoCodigo: txt(c.tipo, `${F}.codigo[${j}].tipo`),
              vlrCodigo: txt(c.valor, `${F}.codigo[${j}].valor`),
            }));
    const ret = it.retenedor;
    const hasPrice = it.precio_unitario !== undefined;
    // 0 means "none" (the api-contract example sends descuento_pct: 0, descuento_monto: 0).
    const dPct = it.descuento_pct || undefined;
    const rPct = it.recargo_pct || undefined;
    const dMonto = it.descuento_monto || undefined;
    const rMonto = it.recargo_monto || undefined;
    statedLines.push(
      clean({
        montoItem: hasPrice ? it.monto_total : undefined,
        descuentoMonto: dPct !== undefined ? it.descuento_monto : undefined,
        recargoMonto: rPct !== undefined ? it.recargo_monto : undefined,
      }),
    );
    return clean({
      nroLinDet: i + 1,
      cdgItem,
      tpoDocLiq: it.tipo_documento_liquidado === undefined ? undefined : String(it.tipo_documento_liquidado),
      indExe,
      retenedor:
        ret === undefined || ret === false
          ? undefined
          : clean({
              indAgente: 'R' as const,
              mntBaseFaena: typeof ret === 'object' ? ret.monto_base_faenamiento : undefined,
              mntMargComer: typeof ret === 'object' ? ret.margen_comercializacion : undefined,
              prcConsFinal: typeof ret === 'object' ? ret.precio_consumidor_final : undefined,
            }),
      nmbItem: txt(it.nombre, `${F}.nombre`),
      dscItem: opt(it.descripcion, `${F}.descripcion`),
      qtyRef: it.cantidad_referencia,
      unmdRef: opt(it.unidad_referencia, `${F}.unidad_referencia`),
      prcRef: it.precio_referencia,
      qtyItem: it.cantidad,
      fchElabor: it.fecha_elaboracion,
      fchVencim: it.fecha_vencimiento,
      unmdItem: opt(it.unidad, `${F}.unidad`),
      prcItem: it.precio_unitario,
      descuentoPct: dPct,
      // With a percentage the amount is computed (and the stated one checked).
      descuentoMonto: dPct === undefined ? dMonto : undefined,
      recargoPct: rPct,
      recargoMonto: rPct === undefined ? rMonto : undefined,
      codImpAdic: codes,
      montoItem: hasPrice ? 0 : (it.monto_total ?? 0),
    });
  });

  // ---- DscRcgGlobal ----
  const dscRcgGlobal: DscRcgGlobal[] | undefined = input.descuentos_globales?.map((g, i) => {
    let indExeDr: 1 | 2 | undefined = g.indicador_exencion;
    if (g.exento !== undefined) {
      if (g.indicador_exencion !== undefined && g.exento !== (g.indicador_exencion === 1)) inputError(`descuentos_globales[${i}].exento`, 'contradicts indicador_exencion');
      if (g.exento) indExeDr = 1;
    }
    return clean({
      nroLinDr: i + 1,
      tpoMov: g.tipo,
      glosaDr: opt(g.glosa, `descuentos_globales[${i}].glosa`),
      tpoValor: g.tipo_valor,
      valorDr: g.valor,
      valorDrOtrMnda: g.valor_otra_moneda,
      indExeDr,
    });
  });

  // ---- ImptoReten declarations ----
  const declared: ImptoReten[] = [];
  const statedImp: { code: number; monto: number; field: string }[] = [];
  const declare = (list: DteInput['impuestos_adicionales'], key: string) =>
    list?.forEach((imp, i) => {
      const field = `${key}[${i}]`;
      if (declared.some((x) => x.tipoImp === imp.codigo)) {
        inputError(`${field}.codigo`, `tax code ${imp.codigo} is listed twice`);
        return;
      }
      origins.impuestos.set(imp.codigo, `${field}.codigo`);
      const info = IMPUESTOS_ADICIONALES[imp.codigo];
      if (info?.montoExplicito && imp.monto === undefined) inputError(`${field}.monto`, `tax code ${imp.codigo} (${info.glosa}) is not rate × lines: give its monto`);
      if (info && !info.montoExplicito && imp.monto !== undefined) statedImp.push({ code: imp.codigo, monto: imp.monto, field: `${field}.monto` });
      declared.push(clean({ tipoImp: imp.codigo, tasaImp: imp.tasa, montoImp: imp.monto ?? 0 }));
    });
  declare(input.impuestos_adicionales, 'impuestos_adicionales');
  declare(input.retenciones, 'retenciones');

  // ---- Comisiones ----
  const statedComIva: (number | undefined)[] = [];
  const comisiones: Comision[] | undefined = input.comisiones?.map((c, i) => {
    statedComIva.push(c.valor_iva);
    return clean({
      nroLinCom: i + 1,
      tipoMovim: c.tipo,
      glosa: txt(c.glosa, `comisiones[${i}].glosa`),
      tasaComision: c.tasa,
      valComNeto: c.valor_neto ?? 0,
      valComExe: c.valor_exento ?? 0,
      // Computed as round(valor_neto × 19 %) by computeTotals; a stated valor_iva is checked.
      valComIva: undefined,
    }) as unknown as Comision;
  });

  // ---- Referencias ----
  const referencia: Referencia[] | undefined = input.referencias?.map((r, i) => {
    const F = `referencias[${i}]`;
    let codRef: Referencia['codRef'];
    let codRefBoleta: string | undefined;
    if (r.codigo !== undefined) {
      if (boleta) codRefBoleta = txt(String(r.codigo), `${F}.codigo`);
      else if (typeof r.codigo === 'number') codRef = r.codigo;
      else inputError(`${F}.codigo`, 'CodRef is 1 (anula), 2 (corrige texto) or 3 (corrige montos); free text is for boletas');
    }
    return clean({
      nroLinRef: i + 1,
      tpoDocRef: r.tipo_documento === undefined ? '' : txt(String(r.tipo_documento), `${F}.tipo_documento`),
      indGlobal: r.global ? (1 as const) : undefined,
      folioRef: r.folio === undefined ? '' : txt(String(r.folio), `${F}.folio`),
      rutOtr: optRut(r.rut_otro, `${F}.rut_otro`),
      fchRef: r.fecha ?? '',
      codRef,
      razonRef: opt(r.razon, `${F}.razon`),
      codRefBoleta,
    });
  });

  // ---- Totales declarations, OtraMoneda ----
  const totales: Totales = clean({
    tpoMoneda: input.moneda,
    imptoReten: declared.length > 0 ? declared : undefined,
    credEc: input.credito_especial_constructoras ? 0 : undefined,
    mntTotal: 0,
  });
  let otraMoneda: Dte['encabezado']['otraMoneda'];
  if (input.otra_moneda) {
    if (!exp) inputError('otra_moneda', 'the conversion block is computed for export documents (110, 111, 112) only');
    else otraMoneda = { tpoMoneda: input.otra_moneda.moneda ?? 'PESO CL', tpoCambio: input.otra_moneda.tipo_cambio, mntTotOtrMnda: 0 };
  }

  if (issues.length > 0) throw new TimbreValidationError(issues);

  const draft: Dte = clean({
    encabezado: clean({
      idDoc,
      emisor,
      rutMandante: optRut(input.rut_mandante, 'rut_mandante'),
      receptor,
      rutSolicita: optRut(input.rut_solicitante, 'rut_solicitante'),
      transporte,
      totales,
      otraMoneda,
    }),
    detalle,
    dscRcgGlobal,
    referencia,
    comisiones,
  });

  // ---- totals ----
  let dte: Dte;
  try {
    dte = computeTotals(draft).dte;
  } catch (e) {
    if (e instanceof TimbreError) throw new TimbreValidationError([translate(e, input, origins)]);
    throw e;
  }

  // ---- stated totals ----
  const mismatches: TimbreError[] = [];
  mismatches.push(...checkStatedLineTotals(statedLines, dte.detalle, 'items'));
  dte.comisiones?.forEach((c, i) => {
    const s = statedComIva[i];
    if (s !== undefined && formatDecimal(s, 0) !== formatDecimal(c.valComIva ?? 0, 0)) {
      const field = `comisiones[${i}].valor_iva`;
      mismatches.push(new TimbreError('ERR_TOTALS_MISMATCH', `${field}: stated ${s}, but valor_neto × 19 % gives ${c.valComIva}`, { field, expected: c.valComIva, actual: s }));
    }
  });
  for (const s of statedImp) {
    const c = dte.encabezado.totales.imptoReten?.find((x) => x.tipoImp === s.code);
    if (c && formatDecimal(c.montoImp, 0) !== formatDecimal(s.monto, 0)) {
      mismatches.push(new TimbreError('ERR_TOTALS_MISMATCH', `${s.field}: stated ${s.monto}, but rate × lines gives ${c.montoImp}`, { field: s.field, expected: c.montoImp, actual: s.monto }));
    }
  }
  if (input.totales) {
    const st: Partial<Totales> = {};
    for (const [model, key] of Object.entries(TOTALES_INPUT_KEYS) as [keyof Totales, string][]) {
      const v = (input.totales as Record<string, number | undefined>)[key];
      if (v !== undefined) (st as Record<string, number>)[model] = v;
    }
    mismatches.push(...checkStatedTotals(st, dte.encabezado.totales, 'totales'));
  }

  // ---- rules ----
  const violations = validateDte(dte).map((e) => translate(e, input, origins));
  const all = [...mismatches, ...violations];
  if (all.length > 0) throw new TimbreValidationError(all);
  return dte;
}

// ------------------------------------------------------------------------------------------------
// model paths → input paths
// ------------------------------------------------------------------------------------------------

const ID_DOC_KEYS: Record<string, string> = {
  tipoDte: 'dte_type',
  folio: 'folio',
  fchEmis: 'fecha_emision',
  fchVenc: 'fecha_vencimiento',
  fchCancel: 'fecha_cancelacion',
  periodoDesde: 'periodo_desde',
  periodoHasta: 'periodo_hasta',
  indServicio: 'indicador_servicio',
  indMntNeto: 'montos_brutos',
  mntBruto: 'montos_brutos',
  indTraslado: 'indicador_traslado',
  tpoImpresion: 'tipo_impresion',
  tipoDespacho: 'tipo_despacho',
  indNoRebaja: 'indicador_no_rebaja',
  fmaPago: 'forma_pago',
  fmaPagExp: 'forma_pago_exportacion',
  medioPago: 'medio_pago',
};
const EMISOR_KEYS: Record<string, string> = {
  rutEmisor: 'rut',
  rznSoc: 'razon_social',
  giroEmis: 'giro',
  acteco: 'acteco',
  dirOrigen: 'direccion',
  cmnaOrigen: 'comuna',
  ciudadOrigen: 'ciudad',
  rutProvSw: 'rut_proveedor_software',
  correoEmisor: 'correo',
  telefono: 'telefono',
};
const RECEPTOR_KEYS: Record<string, string> = {
  rutRecep: 'rut',
  rznSocRecep: 'razon_social',
  giroRecep: 'giro',
  dirRecep: 'direccion',
  cmnaRecep: 'comuna',
  ciudadRecep: 'ciudad',
  telefonoRecep: 'telefono',
  correoRecep: 'correo',
  contacto: 'contacto',
  extranjero: 'extranjero',
};
const TRANSPORTE_KEYS: Record<string, string> = {
  patente: 'patente',
  rutTrans: 'rut_transportista',
  chofer: 'chofer',
  'chofer.rutChofer': 'chofer.rut',
  'chofer.nombreChofer': 'chofer.nombre',
  dirDest: 'direccion_destino',
  cmnaDest: 'comuna_destino',
  ciudadDest: 'ciudad_destino',
  aduana: 'aduana',
};
const ADUANA_KEYS: Record<string, string> = {
  codModVenta: 'modalidad_venta',
  codClauVenta: 'clausula_venta',
  totClauVenta: 'total_clausula_venta',
  codViaTransp: 'via_transporte',
  rutCiaTransp: 'rut_compania_transporte',
  codPtoEmbarque: 'puerto_embarque',
  codPtoDesemb: 'puerto_desembarque',
  totBultos: 'total_bultos',
  codPaisRecep: 'pais_receptor',
  codPaisDestin: 'pais_destino',
  mntFlete: 'flete',
  mntSeguro: 'seguro',
};
const DETALLE_KEYS: Record<string, string> = {
  nroLinDet: 'numero_linea',
  nmbItem: 'nombre',
  dscItem: 'descripcion',
  qtyItem: 'cantidad',
  unmdItem: 'unidad',
  prcItem: 'precio_unitario',
  descuentoPct: 'descuento_pct',
  descuentoMonto: 'descuento_monto',
  recargoPct: 'recargo_pct',
  recargoMonto: 'recargo_monto',
  codImpAdic: 'impuesto_adicional',
  tpoDocLiq: 'tipo_documento_liquidado',
  montoItem: 'monto_total',
  retenedor: 'retenedor',
  cdgItem: 'codigo',
};
const DR_KEYS: Record<string, string> = {
  nroLinDr: 'tipo',
  tpoMov: 'tipo',
  glosaDr: 'glosa',
  tpoValor: 'tipo_valor',
  valorDr: 'valor',
  indExeDr: 'exento',
};
const REF_KEYS: Record<string, string> = {
  nroLinRef: 'numero_linea',
  tpoDocRef: 'tipo_documento',
  folioRef: 'folio',
  fchRef: 'fecha',
  codRef: 'codigo',
  razonRef: 'razon',
  rutOtr: 'rut_otro',
  indGlobal: 'global',
};
const COM_KEYS: Record<string, string> = {
  nroLinCom: 'tipo',
  tipoMovim: 'tipo',
  glosa: 'glosa',
  tasaComision: 'tasa',
  valComNeto: 'valor_neto',
  valComExe: 'valor_exento',
  valComIva: 'valor_iva',
};

function mapKeys(rest: string, table: Record<string, string>): string {
  if (rest === '') return '';
  const exact = table[rest];
  if (exact) return `.${exact}`;
  const m = /^([A-Za-z]+)(.*)$/.exec(rest);
  if (!m) return `.${rest}`;
  const head = m[1] as string;
  return `.${table[head] ?? head}${m[2] ?? ''}`;
}

/** Translate a model path (`detalle[2].indExe`) into the input path (`items[2].exento`). */
export function modelPathToInputPath(path: string, input?: DteInput, origins?: InputOrigins): string {
  let m: RegExpExecArray | null;
  if ((m = /^encabezado\.idDoc\.([A-Za-z]+)(.*)$/.exec(path))) return `${ID_DOC_KEYS[m[1] as string] ?? m[1]}${m[2]}`;
  if ((m = /^encabezado\.emisor\.?(.*)$/.exec(path))) return `emisor${mapKeys(m[1] as string, EMISOR_KEYS)}`;
  if ((m = /^encabezado\.receptor\.?(.*)$/.exec(path))) return `receptor${mapKeys(m[1] as string, RECEPTOR_KEYS)}`;
  if ((m = /^encabezado\.transporte\.aduana\.?(.*)$/.exec(path))) return `transporte.aduana${mapKeys(m[1] as string, ADUANA_KEYS)}`;
  if ((m = /^encabezado\.transporte\.?(.*)$/.exec(path))) return `transporte${mapKeys(m[1] as string, TRANSPORTE_KEYS)}`;
  if (path === 'encabezado.rutMandante') return 'rut_mandante';
  if (path === 'encabezado.rutSolicita') return 'rut_solicitante';
  if (path === 'encabezado.totales.tpoMoneda') return 'moneda';
  if ((m = /^encabezado\.totales\.imptoReten(?:\[(\d+)\])?(.*)$/.exec(path))) {
    return imptoRetenPath(m[1] === undefined ? undefined : Number(m[1]), input, origins);
  }
  if ((m = /^encabezado\.totales\.([A-Za-z]+)(.*)$/.exec(path))) {
    const k = TOTALES_INPUT_KEYS[m[1] as keyof Totales];
    return k ? `totales.${k}` : `totales.${m[1]}${m[2]}`;
  }
  if ((m = /^encabezado\.otraMoneda\.?(.*)$/.exec(path))) {
    return `otra_moneda${mapKeys(m[1] as string, { tpoMoneda: 'moneda', tpoCambio: 'tipo_cambio' })}`;
  }
  if ((m = /^detalle\[(\d+)\]\.?(.*)$/.exec(path))) {
    const i = Number(m[1]);
    const rest = m[2] as string;
    if (rest === 'indExe') return `items[${i}].${origins?.itemExento[i] ? 'indicador_exencion' : 'exento'}`;
    return `items[${i}]${mapKeys(rest, DETALLE_KEYS)}`;
  }
  if (path === 'detalle' || path === 'detalle.codImpAdic') return 'items';
  if ((m = /^dscRcgGlobal\[(\d+)\]\.?(.*)$/.exec(path))) return `descuentos_globales[${m[1]}]${mapKeys(m[2] as string, DR_KEYS)}`;
  if (path === 'dscRcgGlobal') return 'descuentos_globales';
  if ((m = /^referencia\[(\d+)\]\.?(.*)$/.exec(path))) return `referencias[${m[1]}]${mapKeys(m[2] as string, REF_KEYS)}`;
  if (path === 'referencia') return 'referencias';
  if ((m = /^comisiones\[(\d+)\]\.?(.*)$/.exec(path))) return `comisiones[${m[1]}]${mapKeys(m[2] as string, COM_KEYS)}`;
  return path;
}

function imptoRetenPath(index: number | undefined, input?: DteInput, origins?: InputOrigins): string {
  if (index === undefined || !input || !origins) return 'impuestos_adicionales';
  // Computed ImptoReten keep the codes' order of first appearance (lines, then declarations).
  const codes: number[] = [];
  for (const it of input.items) {
    const cs = it.impuesto_adicional === undefined ? [] : Array.isArray(it.impuesto_adicional) ? it.impuesto_adicional : [it.impuesto_adicional];
    for (const c of cs) if (!codes.includes(c)) codes.push(c);
  }
  for (const l of [input.impuestos_adicionales ?? [], input.retenciones ?? []]) for (const x of l) if (!codes.includes(x.codigo)) codes.push(x.codigo);
  const code = codes[index];
  return (code !== undefined && origins.impuestos.get(code)) || 'impuestos_adicionales';
}

function translate(e: TimbreError, input: DteInput, origins: InputOrigins): TimbreError {
  if (e.field === undefined) return e;
  const field = modelPathToInputPath(e.field, input, origins);
  if (field === e.field) return e;
  return new TimbreError(e.code, e.message, {
    field,
    ...(e.expected !== undefined ? { expected: e.expected } : {}),
    ...(e.actual !== undefined ? { actual: e.actual } : {}),
    ...(e.siiCode !== undefined ? { siiCode: e.siiCode } : {}),
  });
}

// ------------------------------------------------------------------------------------------------
// JSON Schema
// ------------------------------------------------------------------------------------------------

/** Where the generated schema is committed (relative to the repository root). */
export const DTE_INPUT_SCHEMA_PATH = 'schemas/dte-input.schema.json';

/** The committed file's exact text: 2-space JSON and a final newline (generator and test share it). */
export const dteInputJsonSchemaText = (): string => `${JSON.stringify(dteInputJsonSchema(), null, 2)}\n`;

/** The input format as JSON Schema (draft 2020-12), descriptions in English with SII names. */
export function dteInputJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(dteInputSchema, { target: 'draft-2020-12' }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return { $schema, $id: 'https://timbre.cl/schemas/dte-input.schema.json', ...rest };
}
