"""Invoice snapshot -> DTE document JSON (lib/payload.py): types, discounts, rounding, references."""
import copy
import json
import unittest
from decimal import Decimal

from ..payload import PayloadError, build_dte_payload, latin1_text, normalize_rut, round_half_away


def line(name='Servicio', qty=1, price=1000, discount=0.0, exempt=False, subtotal=None, **kw):
    """A snapshot line; ``subtotal`` defaults to what Odoo would show (qty x price - discount)."""
    if subtotal is None:
        subtotal = float(round_half_away(Decimal(repr(float(qty))) * Decimal(repr(float(price))) * (1 - Decimal(repr(discount)) / 100)))
    out = {'sequence': 10, 'product_code': kw.get('code', ''), 'name': name, 'description': kw.get('description', ''),
           'quantity': qty, 'uom': kw.get('uom', 'Units'), 'price_unit': price, 'discount': discount,
           'exempt': exempt, 'price_subtotal': subtotal}
    return out


def snapshot(dte_type='33', lines=None, amounts=None, **kw):
    """A factura like the api-contract example (2 x 45990 + 12500 = 104480 neto)."""
    lines = lines if lines is not None else [
        line('Notebook', 2, 45990, code='NB-1'), line('Mouse inalámbrico', 1, 12500, uom='Unidades')]
    snap = {
        'dte_type': dte_type, 'folio': 0, 'date': '2026-11-28', 'currency': 'CLP',
        'company': {'vat': '76086428-5', 'name': 'Timbre SpA', 'activity_description': 'Desarrollo de software',
                    'street': 'Av. Providencia 1234', 'city': 'Santiago', 'commune': 'Providencia',
                    'acteco': [620200], 'phone': '+56 2 2345 6789', 'email': 'facturas@timbre.cl'},
        'partner': {'vat': '77894717-K', 'name': 'Comercial Ñandú Ltda.', 'activity_description': 'Comercio al por menor',
                    'street': 'Calle Los Aromos 55', 'city': 'Santiago', 'commune': 'Ñuñoa', 'email': 'pagos@nandu.cl',
                    'taxpayer_type': '1'},
        'lines': lines,
        'references': [], 'global_discount_pct': None, 'payment_term': 'credito', 'due_date': '2026-12-28',
    }
    snap.update(kw)
    if amounts is None:
        amounts = odoo_amounts(snap)
    snap['amounts'] = amounts
    return snap


def odoo_amounts(snap):
    """What Odoo would show, computed independently: 19 % on the taxed subtotal, ROUND_HALF_UP."""
    exempt = sum(Decimal(repr(float(l['price_subtotal']))) for l in snap['lines'] if l['exempt'])
    taxed = sum(Decimal(repr(float(l['price_subtotal']))) for l in snap['lines'] if not l['exempt'])
    pct = Decimal(repr(float(snap.get('global_discount_pct') or 0)))
    taxed -= round_half_away(taxed * pct / 100)
    exempt -= round_half_away(exempt * pct / 100)
    tax = round_half_away(taxed * Decimal('0.19'))
    return {'untaxed': float(taxed + exempt), 'exempt': float(exempt), 'tax': float(tax), 'total': float(taxed + exempt + tax)}


class PayloadCase(unittest.TestCase):
    def assertPayloadError(self, field, snap, contains=None):
        with self.assertRaises(PayloadError) as cm:
            build_dte_payload(snap)
        self.assertEqual(cm.exception.field, field, cm.exception.message)
        if contains:
            self.assertIn(contains, cm.exception.message)
        return cm.exception


class TestFactura33(PayloadCase):
    def test_contract_example(self):
        p = build_dte_payload(snapshot())
        self.assertEqual(p['dte_type'], '33')
        self.assertEqual(p['folio'], 0)
        self.assertEqual(p['fecha_emision'], '2026-11-28')
        self.assertEqual(p['totales'], {'monto_neto': 104480, 'iva': 19851, 'monto_total': 124331})
        self.assertEqual(p['items'][0], {'numero_linea': 1, 'codigo': 'NB-1', 'nombre': 'Notebook', 'cantidad': 2,
                                         'unidad': 'UN', 'precio_unitario': 45990, 'exento': False, 'monto_total': 91980})
        self.assertEqual(p['items'][1]['unidad'], 'UN')
        self.assertEqual(p['emisor'], {'rut': '76086428-5', 'razon_social': 'Timbre SpA', 'giro': 'Desarrollo de software',
                                       'direccion': 'Av. Providencia 1234', 'comuna': 'Providencia', 'ciudad': 'Santiago',
                                       'acteco': [620200], 'telefono': '+56 2 2345 6789', 'correo': 'facturas@timbre.cl'})
        self.assertEqual(p['receptor']['rut'], '77894717-K')
        self.assertEqual(p['forma_pago'], 2)
        self.assertEqual(p['fecha_vencimiento'], '2026-12-28')
        self.assertNotIn('referencias', p)
        self.assertNotIn('descuentos_globales', p)
        json.dumps(p)  # serializable as is

    def test_spanish_characters_kept(self):
        p = build_dte_payload(snapshot())
        self.assertEqual(p['receptor']['razon_social'], 'Comercial Ñandú Ltda.')
        self.assertEqual(p['receptor']['comuna'], 'Ñuñoa')
        self.assertEqual(p['items'][1]['nombre'], 'Mouse inalámbrico')
        p['receptor']['razon_social'].encode('latin-1')

    def test_typographic_characters_replaced(self):
        snap = snapshot(lines=[line('Cable “USB‑C” – 2 m…', 1, 1000)])
        self.assertEqual(build_dte_payload(snap)['items'][0]['nombre'], 'Cable "USB-C" - 2 m...')

    def test_non_latin1_reported(self):
        snap = snapshot(lines=[line('Torta 🎂', 1, 1000)])
        err = self.assertPayloadError('items[0].nombre', snap, 'U+1F382')
        self.assertIn('ISO-8859-1', err.message)
        snap = snapshot()
        snap['partner']['name'] = 'Ωmega SpA'
        self.assertPayloadError('receptor.razon_social', snap)

    def test_rounding_half_away_on_lines(self):
        # 2.5 x 1 = 2.5 -> 3 (Python's round() would give 2).
        self.assertEqual(round(2.5), 2)
        snap = snapshot(lines=[line('Tornillo', 2.5, 1, subtotal=3), line('Arandela', 0.5, 5, subtotal=3)])
        p = build_dte_payload(snap)
        self.assertEqual([i['monto_total'] for i in p['items']], [3, 3])
        self.assertEqual(p['items'][0]['cantidad'], 2.5)
        self.assertEqual(p['totales']['monto_neto'], 6)

    def test_rounding_half_away_on_iva(self):
        # neto 150 -> IVA 28.5 -> 29 (banker's rounding would give 28).
        snap = snapshot(lines=[line('Item', 1, 150)])
        self.assertEqual(snap['amounts']['tax'], 29.0)
        p = build_dte_payload(snap)
        self.assertEqual(p['totales'], {'monto_neto': 150, 'iva': 29, 'monto_total': 179})

    def test_decimal_prices(self):
        # 3 x 333.335 = 1000.005 -> 1000; float noise must not change it.
        snap = snapshot(lines=[line('Arriendo', 3, 333.335, subtotal=1000), line('Gas', 0.1, 0.3, subtotal=0)])
        p = build_dte_payload(snap)
        self.assertEqual(p['items'][0]['precio_unitario'], 333.335)
        self.assertEqual(p['items'][0]['monto_total'], 1000)
        self.assertEqual(p['items'][1]['monto_total'], 0)

    def test_line_discount(self):
        # 1010 x 5 % = 50.5 -> 51; line 959.
        snap = snapshot(lines=[line('Servicio', 1, 1010, discount=5.0, subtotal=959), line('Otro', 4, 250, discount=12.5)])
        p = build_dte_payload(snap)
        self.assertEqual(p['items'][0]['descuento_pct'], 5)
        self.assertEqual(p['items'][0]['descuento_monto'], 51)
        self.assertEqual(p['items'][0]['monto_total'], 959)
        self.assertEqual(p['items'][1]['descuento_monto'], 125)
        self.assertEqual(p['items'][1]['monto_total'], 875)
        self.assertEqual(p['totales']['monto_neto'], 1834)

    def test_sent_precision_is_computed_precision(self):
        # DescuentoPct has 2 decimals, PrcItem/QtyItem 6: the amounts come from the values sent.
        snap = snapshot(lines=[line('A', 1, 10000, discount=12.345, subtotal=8765),
                               line('B', 1.0000004, 1000.1234564, subtotal=1000)])
        p = build_dte_payload(snap)
        self.assertEqual((p['items'][0]['descuento_pct'], p['items'][0]['descuento_monto']), (12.35, 1235))
        self.assertEqual((p['items'][1]['cantidad'], p['items'][1]['precio_unitario']), (1, 1000.123456))

    def test_exempt_lines_in_factura(self):
        snap = snapshot(lines=[line('Asesoría', 1, 100000), line('Curso exento', 1, 50000, exempt=True)])
        p = build_dte_payload(snap)
        self.assertEqual(p['totales'], {'monto_neto': 100000, 'monto_exento': 50000, 'iva': 19000, 'monto_total': 169000})
        self.assertTrue(p['items'][1]['exento'])

    def test_global_discount_pct(self):
        snap = snapshot(lines=[line('A', 1, 100000), line('B exento', 1, 20000, exempt=True)], global_discount_pct=10.0)
        p = build_dte_payload(snap)
        self.assertEqual(p['descuentos_globales'], [
            {'tipo': 'D', 'glosa': 'Descuento global', 'tipo_valor': '%', 'valor': 10},
            {'tipo': 'D', 'glosa': 'Descuento global', 'tipo_valor': '%', 'valor': 10, 'exento': True}])
        self.assertEqual(p['totales'], {'monto_neto': 90000, 'monto_exento': 18000, 'iva': 17100, 'monto_total': 125100})

    def test_global_discount_rounding(self):
        # 10% of 1005 = 100.5 -> 101 off: neto 904, IVA 171.76 -> 172.
        snap = snapshot(lines=[line('A', 1, 1005)], global_discount_pct=10.0)
        self.assertEqual(build_dte_payload(snap)['totales'], {'monto_neto': 904, 'iva': 172, 'monto_total': 1076})

    def test_negative_line_becomes_global_discount(self):
        lines = [line('A', 1, 10000), line('Descuento promoción', 1, -1500, subtotal=-1500)]
        snap = snapshot(lines=lines)
        self.assertEqual(snap['amounts']['untaxed'], 8500.0)
        p = build_dte_payload(snap)
        self.assertEqual(len(p['items']), 1)
        self.assertEqual(p['descuentos_globales'], [{'tipo': 'D', 'tipo_valor': '$', 'valor': 1500, 'glosa': 'Descuento promoción'}])
        self.assertEqual(p['totales'], {'monto_neto': 8500, 'iva': 1615, 'monto_total': 10115})

    def test_discount_larger_than_lines(self):
        snap = snapshot(lines=[line('A', 1, 1000), line('Desc', 1, -2000, subtotal=-2000)], amounts={})
        self.assertPayloadError('descuentos_globales', snap)

    def test_mismatch_with_odoo_totals(self):
        snap = snapshot()
        snap['amounts']['tax'] += 3  # 2 lines: 2 pesos tolerated, 3 not
        err = self.assertPayloadError('totales.iva', snap, '19851')
        self.assertIn('19854', err.message)
        snap = snapshot()
        snap['amounts']['tax'] += 2
        snap['amounts']['total'] += 2
        self.assertEqual(build_dte_payload(snap)['totales']['iva'], 19851)  # the SII's figure is sent
        snap = snapshot()
        snap['amounts']['untaxed'] += 10
        self.assertPayloadError('totales.monto_neto', snap)
        snap = snapshot(lines=[line('A', 1, 1000), line('B', 1, 500, exempt=True)])
        snap['amounts']['exempt'] = 400
        self.assertPayloadError('totales.monto_exento', snap)
        snap = snapshot()
        snap['amounts']['total'] += 50
        self.assertPayloadError('totales.monto_total', snap)

    def test_additional_tax_is_a_mismatch(self):
        snap = snapshot()
        snap['amounts']['tax'] += 9000  # e.g. ILA on top of IVA
        self.assertPayloadError('totales.iva', snap, 'solo se admite IVA')

    def test_line_mismatch(self):
        snap = snapshot(lines=[line('A', 3, 333.33, subtotal=1002)])
        self.assertPayloadError('items[0].monto_total', snap)
        snap = snapshot(lines=[line('A', 3, 333.33, subtotal=1001)])  # 999.99 -> 1000: 1 peso off is fine
        self.assertEqual(build_dte_payload(snap)['items'][0]['monto_total'], 1000)

    def test_rut_formats(self):
        for vat in ('76086428-5', '76.086.428-5', 'CL760864285', ' 76086428-5 '):
            self.assertEqual(normalize_rut(vat, 'x'), '76086428-5')
        self.assertEqual(normalize_rut('77.894.717-k', 'x'), '77894717-K')
        snap = snapshot()
        snap['company']['vat'] = '76086428-4'
        self.assertPayloadError('emisor.rut', snap, 'dígito verificador')
        snap = snapshot()
        snap['partner']['vat'] = ''
        self.assertPayloadError('receptor.rut', snap)

    def test_required_party_fields(self):
        for key, field in (('activity_description', 'receptor.giro'), ('street', 'receptor.direccion'),
                           ('commune', 'receptor.comuna'), ('name', 'receptor.razon_social')):
            snap = snapshot()
            snap['partner'][key] = ''
            self.assertPayloadError(field, snap)
        for key, field in (('name', 'emisor.razon_social'), ('activity_description', 'emisor.giro'),
                           ('street', 'emisor.direccion'), ('commune', 'emisor.comuna'), ('acteco', 'emisor.acteco')):
            snap = snapshot()
            snap['company'][key] = [] if key == 'acteco' else False
            self.assertPayloadError(field, snap)

    def test_empty_optionals_left_out_and_lengths_cut(self):
        snap = snapshot()
        snap['partner'].update(email='', city=False, activity_description='Venta al por menor de artículos de ferretería y materiales')
        snap['company']['phone'] = None
        p = build_dte_payload(snap)
        self.assertNotIn('correo', p['receptor'])
        self.assertNotIn('ciudad', p['receptor'])
        self.assertNotIn('telefono', p['emisor'])
        self.assertEqual(len(p['receptor']['giro']), 40)

    def test_long_item_name(self):
        name = 'Producto ' + 'x' * 100
        p = build_dte_payload(snapshot(lines=[line(name, 1, 1000)]))
        self.assertEqual(len(p['items'][0]['nombre']), 80)
        self.assertEqual(p['items'][0]['descripcion'], name)

    def test_description_and_uom(self):
        p = build_dte_payload(snapshot(lines=[line('Hora consultor', 2, 30000, uom='Hours', description='Soporte\n  remoto')]))
        self.assertEqual(p['items'][0]['descripcion'], 'Soporte\nremoto')
        self.assertEqual(p['items'][0]['unidad'], 'HR')
        p = build_dte_payload(snapshot(lines=[line('Caja', 2, 30000, uom='Cajas de 12')]))
        self.assertEqual(p['items'][0]['unidad'], 'Caja')

    def test_foreign_currency_refused(self):
        self.assertPayloadError('moneda', snapshot(currency='USD'))

    def test_payment_terms(self):
        self.assertEqual(build_dte_payload(snapshot(payment_term='contado'))['forma_pago'], 1)
        p = build_dte_payload(snapshot(payment_term=None, due_date=False))
        self.assertNotIn('forma_pago', p)
        self.assertNotIn('fecha_vencimiento', p)

    def test_folio_and_dates(self):
        self.assertEqual(build_dte_payload(snapshot(folio=120))['folio'], 120)
        self.assertPayloadError('fecha_emision', snapshot(date='28/11/2026'))
        self.assertPayloadError('fecha_emision', snapshot(date=None))

    def test_bad_lines(self):
        self.assertPayloadError('items', snapshot(lines=[], amounts={}))
        self.assertPayloadError('items[0].cantidad', snapshot(lines=[line('A', 0, 1000, subtotal=0)]))
        self.assertPayloadError('items[0].descuento_pct', snapshot(lines=[line('A', 1, 1000, discount=120.0, subtotal=0)], amounts={}))
        self.assertPayloadError('items', snapshot(lines=[line('L%d' % i, 1, 100) for i in range(61)]))

    def test_unsupported_types(self):
        self.assertPayloadError('dte_type', snapshot(dte_type='52'), 'guía')
        self.assertPayloadError('dte_type', snapshot(dte_type='46'))
        self.assertPayloadError('dte_type', snapshot(dte_type=''))

    def test_input_not_modified(self):
        snap = snapshot(global_discount_pct=5.0)
        before = copy.deepcopy(snap)
        build_dte_payload(snap)
        self.assertEqual(snap, before)


class TestExenta34(PayloadCase):
    def test_exempt_invoice(self):
        snap = snapshot('34', lines=[line('Curso', 2, 75000, exempt=True)])
        p = build_dte_payload(snap)
        self.assertEqual(p['totales'], {'monto_exento': 150000, 'monto_total': 150000})
        self.assertNotIn('iva', p['totales'])
        self.assertTrue(p['items'][0]['exento'])

    def test_taxed_line_refused(self):
        snap = snapshot('34', lines=[line('Curso', 1, 1000, exempt=True), line('Libro', 1, 1000)])
        self.assertPayloadError('items[1].exento', snap, 'exento')


class TestBoletas(PayloadCase):
    def test_boleta_39_net_lines(self):
        snap = snapshot('39', lines=[line('Café', 3, 2100), line('Medialuna', 2, 1050)])
        snap['partner'] = {'vat': '', 'name': '', 'activity_description': '', 'street': '', 'city': '', 'commune': '',
                           'email': '', 'taxpayer_type': '3'}
        snap['company']['acteco'] = []
        p = build_dte_payload(snap)
        self.assertEqual(p['receptor'], {'rut': '66666666-6'})
        self.assertEqual(p['indicador_servicio'], 3)
        self.assertIs(p['montos_brutos'], False)
        self.assertNotIn('forma_pago', p)
        self.assertNotIn('acteco', p['emisor'])
        self.assertEqual(p['totales'], {'monto_neto': 8400, 'iva': 1596, 'monto_total': 9996})

    def test_boleta_39_named_buyer(self):
        p = build_dte_payload(snapshot('39'))
        self.assertEqual(p['receptor']['rut'], '77894717-K')
        self.assertEqual(p['totales']['monto_total'], 124331)

    def test_boleta_41_exempt(self):
        snap = snapshot('41', lines=[line('Entrada museo', 2, 3500, exempt=True)])
        p = build_dte_payload(snap)
        self.assertEqual(p['totales'], {'monto_exento': 7000, 'monto_total': 7000})
        self.assertNotIn('montos_brutos', p)
        self.assertPayloadError('items[0].exento', snapshot('41', lines=[line('X', 1, 100)]))

    def test_boleta_reference_code_refused(self):
        snap = snapshot('39', references=[{'doc_type': '39', 'folio': '5', 'date': '2026-11-01', 'code': 1, 'reason': 'x'}])
        self.assertPayloadError('referencias[0].codigo', snap)


class TestNotes(PayloadCase):
    REF = {'doc_type': '33', 'folio': '120', 'date': '2026-11-20', 'code': 1, 'reason': 'Anula factura'}

    def test_credit_note_61(self):
        snap = snapshot('61', references=[dict(self.REF)])
        p = build_dte_payload(snap)
        self.assertEqual(p['referencias'], [{'numero_linea': 1, 'tipo_documento': '33', 'folio': 120, 'fecha': '2026-11-20',
                                             'codigo': 1, 'razon': 'Anula factura'}])
        self.assertEqual(p['totales']['monto_total'], 124331)

    def test_debit_note_56_corrige_montos(self):
        ref = dict(self.REF, code=3, reason='Corrige montos: intereses')
        snap = snapshot('56', lines=[line('Intereses por mora', 1, 5000)], references=[ref])
        p = build_dte_payload(snap)
        self.assertEqual(p['referencias'][0]['codigo'], 3)
        self.assertEqual(p['totales'], {'monto_neto': 5000, 'iva': 950, 'monto_total': 5950})

    def test_credit_note_corrige_texto_zero_amounts(self):
        ref = dict(self.REF, code=2, reason='Corrige giro del receptor')
        snap = snapshot('61', lines=[line('Corrige giro', 1, 0, subtotal=0)], references=[ref])
        self.assertEqual(build_dte_payload(snap)['totales'], {'monto_neto': 0, 'iva': 0, 'monto_total': 0})

    def test_extra_purchase_order_reference(self):
        refs = [{'doc_type': '801', 'folio': 'OC-2026-77', 'date': None, 'code': None, 'reason': 'Orden de compra'},
                dict(self.REF, code=3)]
        p = build_dte_payload(snapshot('61', references=refs))
        self.assertEqual(p['referencias'][0], {'numero_linea': 1, 'tipo_documento': '801', 'folio': 'OC-2026-77',
                                               'razon': 'Orden de compra'})
        self.assertEqual(p['referencias'][1]['numero_linea'], 2)

    def test_references_required(self):
        self.assertPayloadError('referencias', snapshot('61'))
        self.assertPayloadError('referencias', snapshot('56', references=[]))

    def test_codref_required(self):
        self.assertPayloadError('referencias[0].codigo', snapshot('61', references=[dict(self.REF, code=None)]))
        self.assertPayloadError('referencias[0].codigo', snapshot('61', references=[dict(self.REF, code=4)]))

    def test_codref_1_single_document(self):
        refs = [dict(self.REF), dict(self.REF, folio='121')]
        self.assertPayloadError('referencias', snapshot('61', references=refs), 'exactamente un')
        refs = [dict(self.REF, code=3), dict(self.REF, folio='121', code=3)]
        self.assertEqual(len(build_dte_payload(snapshot('61', references=refs))['referencias']), 2)

    def test_reference_fields(self):
        self.assertPayloadError('referencias[0].folio', snapshot('61', references=[dict(self.REF, folio='')]))
        self.assertPayloadError('referencias[0].fecha', snapshot('61', references=[dict(self.REF, date='')]))
        self.assertPayloadError('referencias[0].tipo_documento', snapshot('61', references=[dict(self.REF, doc_type='')]))


class TestExport(PayloadCase):
    def export_snapshot(self, **kw):
        snap = snapshot('110', currency='USD', lines=[line('Vino', 12, 10.25, exempt=True, subtotal=123.0)],
                        amounts={'untaxed': 123.0, 'exempt': 123.0, 'tax': 0.0, 'total': 123.0})
        snap['partner'].update(vat='55555555-5', activity_description='', commune='', taxpayer_type='4', city='Lima')
        snap.update(kw)
        return snap

    def test_without_export_data(self):
        self.assertPayloadError('otra_moneda.tipo_cambio', self.export_snapshot(), 'aduana')

    def test_minimal_export(self):
        snap = self.export_snapshot(export={'exchange_rate': 950.5, 'forma_pago_exportacion': 1,
                                            'aduana': {'clausula_venta': 5, 'via_transporte': 1}})
        p = build_dte_payload(snap)
        self.assertEqual(p['moneda'], 'DOLAR USA')
        self.assertEqual(p['otra_moneda'], {'moneda': 'PESO CL', 'tipo_cambio': 950.5})
        self.assertEqual(p['totales'], {'monto_exento': 123, 'monto_total': 123})
        self.assertEqual(p['items'][0]['precio_unitario'], 10.25)
        self.assertEqual(p['transporte'], {'aduana': {'clausula_venta': 5, 'via_transporte': 1}})
        self.assertEqual(p['forma_pago_exportacion'], 1)

    def test_export_decimals(self):
        snap = self.export_snapshot(export={'exchange_rate': 950.5},
                                    lines=[line('Vino', 3, 10.333, exempt=True, subtotal=31.0)],
                                    amounts={'untaxed': 31.0, 'exempt': 31.0, 'tax': 0.0, 'total': 31.0})
        p = build_dte_payload(snap)
        self.assertEqual(p['items'][0]['monto_total'], 30.999)

    def test_unsupported_currency(self):
        self.assertPayloadError('moneda', self.export_snapshot(currency='XAU', export={'exchange_rate': 1}))

    def test_export_notes_reference_the_export(self):
        ref = {'doc_type': '33', 'folio': '5', 'date': '2026-11-01', 'code': 1, 'reason': 'x'}
        snap = self.export_snapshot(dte_type='112', export={'exchange_rate': 950}, references=[ref])
        self.assertPayloadError('referencias', snap, '110')
        snap['references'] = [dict(ref, doc_type='110')]
        self.assertEqual(build_dte_payload(snap)['referencias'][0]['tipo_documento'], '110')


class TestHelpers(unittest.TestCase):
    def test_round_half_away(self):
        self.assertEqual(round_half_away(2.5), 3)
        self.assertEqual(round_half_away(-2.5), -3)
        self.assertEqual(round_half_away(0.125, 2), Decimal('0.13'))
        self.assertEqual(round_half_away(1.005, 2), Decimal('1.01'))  # repr(1.005) == '1.005'
        self.assertEqual(round_half_away(Decimal('28.5')), 29)

    def test_latin1_text(self):
        self.assertEqual(latin1_text('  Señor\tÑuñez  ', 'f'), 'Señor Ñuñez')
        self.assertEqual(latin1_text(None, 'f'), '')
        self.assertEqual(latin1_text('a\x00b', 'f'), 'ab')
        self.assertEqual(latin1_text('abcdef', 'f', 4), 'abcd')
        with self.assertRaises(PayloadError) as cm:
            latin1_text('北京', 'receptor.ciudad')
        self.assertEqual(cm.exception.field, 'receptor.ciudad')


if __name__ == '__main__':
    unittest.main()
