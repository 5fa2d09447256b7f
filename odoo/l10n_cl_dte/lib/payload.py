"""Invoice snapshot -> the DTE service's document JSON (``shared/docs/api-contract.md``).

``account.move._dte_snapshot()`` turns an invoice into a plain dict (no recordsets); this module
turns that dict into the body of ``POST /api/v1/dte/generate`` (and of a batch item, and the
``dte_data`` of the AI pre-validation). Keeping the mapping free of Odoo lets CI test it with a
plain ``python3``.

Why the totals are computed here although the service computes them too: the SII computes every
amount from the lines (line amount = round(quantity x price) - round(that x discount %), IVA =
round(neto x 19 %), half away from zero, integer pesos). Odoo rounds its own way (per line or
globally, with its currency rounding), so the two can differ by a peso or so. The payload states
the SII's amounts (``items[].monto_total``, ``totales``) -- the service re-checks them and refuses
a document whose stated totals are not its own -- and they are cross-checked here against what
Odoo shows the user (``amounts``): a difference of more than 1 peso per line means the mapping and
the invoice disagree (an unsupported tax, a hand-edited total...) and the document must not be
sent. Amounts are handled with :mod:`decimal` and ROUND_HALF_UP (ties away from zero); Python's
``round`` rounds ties to even and must not be used.

Snapshot keys (the contract between the helpers): ``dte_type``, ``folio``, ``date``, ``currency``,
``company`` {vat, name, activity_description, street, city, commune, acteco, phone, email},
``partner`` {vat, name, activity_description, street, city, commune, email, taxpayer_type},
``lines`` [{sequence, product_code, name, description, quantity, uom, price_unit, discount,
exempt, price_subtotal}], ``amounts`` {untaxed, exempt, tax, total}, ``references`` [{doc_type,
folio, date, code, reason}], ``global_discount_pct``, ``payment_term``, ``due_date``. Export
documents (110/111/112) also need ``export`` {exchange_rate, aduana?, forma_pago_exportacion?,
nacionalidad?}, which Odoo community does not model: without it they are refused with a clear
:class:`PayloadError`.

Errors: :class:`PayloadError` with ``field`` (the payload path, e.g. ``items[2].monto_total``,
``receptor.rut``, ``referencias[0].codigo``) and a Spanish ``message`` meant for the user.
"""
import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

__all__ = ['PayloadError', 'build_dte_payload', 'round_half_away', 'normalize_rut', 'latin1_text',
           'SUPPORTED_TYPES', 'IVA_RATE']

#: Document types this module maps (52, guía de despacho, is a stock picking: out of scope).
SUPPORTED_TYPES = ('33', '34', '39', '41', '56', '61', '110', '111', '112')
BOLETAS = ('39', '41')
EXEMPT_TYPES = ('34', '41', '110', '111', '112')
NOTES = ('56', '61', '111', '112')
EXPORTS = ('110', '111', '112')
#: IVA, percent (Ley sobre Impuesto a las Ventas y Servicios, art. 14).
IVA_RATE = Decimal('19')
#: Types a reference can point to that are tax documents (a CodRef applies to them).
TAX_DOC_TYPES = frozenset(['30', '32', '33', '34', '35', '38', '39', '40', '41', '43', '45', '46', '50', '52',
                           '55', '56', '60', '61', '103', '110', '111', '112'])
#: The SII accepts at most 60 lines in a DTE (boletas: 1000).
MAX_LINES = 60
MAX_LINES_BOLETA = 1000

#: Maximum lengths of the SII's XML elements (DTE_v10.xsd): longer texts are cut there.
MAXLEN = {
    'razon_social': 100, 'giro_emisor': 80, 'giro_receptor': 40, 'direccion': 70, 'comuna': 20,
    'ciudad': 20, 'correo': 80, 'telefono': 20, 'nombre': 80, 'descripcion': 1000, 'unidad': 4,
    'codigo': 35, 'razon': 90, 'folio_ref': 18, 'glosa_dr': 45,
}

#: ISO currency -> the Aduana currency name (TipMonType) of export documents.
ADUANA_CURRENCIES = {
    'USD': 'DOLAR USA', 'EUR': 'EURO', 'CLP': 'PESO CL', 'GBP': 'LIBRA EST', 'JPY': 'YEN', 'CNY': 'RENMINBI',
    'CAD': 'DOLAR CAN', 'AUD': 'DOLAR AUST', 'NZD': 'DOLAR NZ', 'HKD': 'DOLAR HK', 'SGD': 'DOLAR SIN',
    'TWD': 'DOLAR TAI', 'CHF': 'FRANCO SZ', 'SEK': 'CORONA SC', 'NOK': 'CORONA NOR', 'DKK': 'CORONA DIN',
    'ARS': 'OTRAS MONEDAS', 'BOB': 'BOLIVIANO', 'BRL': 'OTRAS MONEDAS', 'COP': 'PESO COL', 'MXN': 'PESO MEX',
    'PEN': 'NUEVO SOL', 'PYG': 'GUARANI', 'UYU': 'PESO URUG', 'ZAR': 'RAND', 'INR': 'RUPIA',
}

#: Odoo unit of measure names -> the short SII unit (UnmdItem, at most 4 characters).
UOM_CODES = {
    'units': 'UN', 'unit': 'UN', 'unidades': 'UN', 'unidad': 'UN', 'dozens': 'DOC', 'docenas': 'DOC',
    'hours': 'HR', 'horas': 'HR', 'hora': 'HR', 'days': 'DIA', 'días': 'DIA', 'dias': 'DIA',
    'kg': 'KG', 'g': 'GR', 'gram': 'GR', 'grams': 'GR', 'ton': 'TON', 't': 'TON', 'l': 'LT', 'liters': 'LT',
    'litros': 'LT', 'ml': 'ML', 'm': 'MT', 'meters': 'MT', 'metros': 'MT', 'km': 'KM', 'cm': 'CM',
    'm²': 'M2', 'm2': 'M2', 'm³': 'M3', 'm3': 'M3',
}

#: Characters outside ISO-8859-1 that have an obvious Latin-1 spelling (same table as
#: packages/dte's LATIN1_REPLACEMENTS, abridged). Anything else outside Latin-1 is reported.
LATIN1_REPLACEMENTS = {
    '\u2018': "'", '\u2019': "'", '\u201a': "'", '\u201b': "'", '\u2032': "'",
    '\u201c': '"', '\u201d': '"', '\u201e': '"', '\u201f': '"', '\u2033': '"',
    '\u2013': '-', '\u2014': '-', '\u2015': '-', '\u2010': '-', '\u2011': '-', '\u2212': '-',
    '\u2026': '...', '\u2022': '-', '\u20ac': 'EUR', '\u2122': 'TM', '\u2116': 'N\u00ba',
    '\u2009': ' ', '\u200a': ' ', '\u2002': ' ', '\u2003': ' ', '\u202f': ' ', '\u2007': ' ',
    '\u200b': '', '\u200c': '', '\u200d': '', '\ufeff': '',
}

_DATE_RE = re.compile(r'^\d{4}-\d{2}-\d{2}$')
_RUT_RE = re.compile(r'^(\d{1,8})([0-9K])$')


class PayloadError(ValueError):
    """The invoice cannot be turned into a valid DTE: ``field`` names the payload field, ``message``
    says why, in Spanish, for the user (Odoo shows it in ``dte_error_message``)."""

    def __init__(self, field, message):
        super().__init__('%s: %s' % (field, message))
        self.field = field
        self.message = message


# ------------------------------------------------------------------------------------------------
# numbers
# ------------------------------------------------------------------------------------------------

def _dec(value, field):
    """A snapshot number (int, float, str, Decimal) as an exact Decimal; floats via their repr
    (``0.1`` is 0.1, not 0.1000000000000000055...)."""
    if value is None or value is False or value == '':
        return Decimal(0)
    if isinstance(value, bool):
        raise PayloadError(field, 'se esperaba un número, no un booleano')
    try:
        d = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise PayloadError(field, 'se esperaba un número, se recibió %r' % (value,)) from None
    if not d.is_finite():
        raise PayloadError(field, 'se esperaba un número finito')
    return d


def round_half_away(value, decimals=0):
    """Round half away from zero (the SII's rule): 2.5 -> 3, -2.5 -> -3, 0.125 -> 0.13 with 2 decimals.

    Returns a Decimal. Never use ``round()`` for amounts: it rounds ties to even (2.5 -> 2).
    """
    d = value if isinstance(value, Decimal) else _dec(value, 'amount')
    return d.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def _json_number(d):
    """A Decimal as a JSON number: an int when whole (45990, not 45990.0), else a float."""
    d = d.normalize() if d != 0 else Decimal(0)
    if d == d.to_integral_value():
        return int(d)
    return float(d)


# ------------------------------------------------------------------------------------------------
# texts and identifiers
# ------------------------------------------------------------------------------------------------

def latin1_text(value, field, max_len=None, multiline=False):
    """Text for the DTE: ISO-8859-1 only, trimmed, cut at ``max_len`` characters.

    Spanish letters (á é í ó ú ñ ü ¿ ¡ º) are Latin-1 and are kept. Typographic quotes, dashes, the
    euro sign and invisible spaces are replaced by their Latin-1 spelling; any other character
    outside Latin-1 (emoji, Greek, ...) raises :class:`PayloadError`: the SII rejects the signature
    of a document whose bytes do not match its declared encoding, so it must be fixed in Odoo.
    Whitespace runs collapse to one space unless ``multiline``. Returns '' for empty values.
    """
    if value is None or value is False:
        return ''
    text = unicodedata.normalize('NFC', str(value))
    out = []
    for ch in text:
        if ch in LATIN1_REPLACEMENTS:
            out.append(LATIN1_REPLACEMENTS[ch])
            continue
        if ord(ch) > 0xFF:
            raise PayloadError(field, 'el carácter «%s» (U+%04X) no existe en ISO-8859-1, la codificación de los DTE: '
                                      'reemplácelo en Odoo' % (ch, ord(ch)))
        if ord(ch) < 0x20 and ch not in '\t\n\r':
            continue  # control characters are not allowed in XML 1.0
        out.append(ch)
    text = ''.join(out)
    if multiline:
        text = '\n'.join(' '.join(line.split()) for line in text.strip().splitlines()).strip()
    else:
        text = ' '.join(text.split())
    if max_len is not None and len(text) > max_len:
        text = text[:max_len].rstrip()
    return text


def normalize_rut(vat, field):
    """Odoo's ``vat`` (``76086428-5``, ``76.086.428-5``, ``CL760864285``) -> canonical ``76086428-5``.

    Raises :class:`PayloadError` when it is missing or its check digit (módulo 11) is wrong.
    """
    raw = (vat or '').strip().upper()
    if raw.startswith('CL'):
        raw = raw[2:]
    raw = re.sub(r'[.\s-]', '', raw)
    m = _RUT_RE.match(raw)
    if not m:
        raise PayloadError(field, 'RUT ausente o mal formado: %r (se espera, por ejemplo, 76086428-5)' % (vat or ''))
    body, dv = m.group(1).lstrip('0') or '0', m.group(2)
    if dv != _rut_check_digit(body):
        raise PayloadError(field, 'el dígito verificador del RUT %s-%s no es válido' % (body, dv))
    return '%s-%s' % (body, dv)


def _rut_check_digit(body):
    total, factor = 0, 2
    for digit in reversed(body):
        total += int(digit) * factor
        factor = 2 if factor == 7 else factor + 1
    rest = 11 - total % 11
    return '0' if rest == 11 else 'K' if rest == 10 else str(rest)


def _date(value, field, required=True):
    text = str(value or '').strip()[:10]
    if not text:
        if required:
            raise PayloadError(field, 'falta la fecha')
        return None
    if not _DATE_RE.match(text):
        raise PayloadError(field, 'fecha inválida %r (se espera AAAA-MM-DD)' % (value,))
    return text


def _put(target, key, value):
    """Set ``key`` only when ``value`` is meaningful: the service refuses empty strings."""
    if value not in (None, '', [], {}):
        target[key] = value


def _required_text(source, key, field, max_len, label):
    text = latin1_text(source.get(key), field, max_len)
    if not text:
        raise PayloadError(field, 'falta %s' % label)
    return text


# ------------------------------------------------------------------------------------------------
# parties
# ------------------------------------------------------------------------------------------------

def _emisor(company, dte_type):
    boleta = dte_type in BOLETAS
    em = {
        'rut': normalize_rut(company.get('vat'), 'emisor.rut'),
        'razon_social': _required_text(company, 'name', 'emisor.razon_social', MAXLEN['razon_social'],
                                       'la razón social de la compañía'),
        'giro': _required_text(company, 'activity_description', 'emisor.giro', MAXLEN['giro_emisor'],
                               'el giro (descripción de actividad) de la compañía'),
        'direccion': _required_text(company, 'street', 'emisor.direccion', MAXLEN['direccion'],
                                    'la dirección de la compañía'),
        'comuna': _required_text(company, 'commune', 'emisor.comuna', MAXLEN['comuna'], 'la comuna de la compañía'),
    }
    _put(em, 'ciudad', latin1_text(company.get('city'), 'emisor.ciudad', MAXLEN['ciudad']))
    acteco = []
    for i, code in enumerate(company.get('acteco') or []):
        try:
            n = int(code)
        except (TypeError, ValueError):
            raise PayloadError('emisor.acteco[%d]' % i, 'código de actividad económica inválido: %r' % (code,)) from None
        if not 1 <= n <= 999999:
            raise PayloadError('emisor.acteco[%d]' % i, 'código de actividad económica inválido: %r' % (code,))
        if n not in acteco:
            acteco.append(n)
    if not acteco and not boleta:
        raise PayloadError('emisor.acteco', 'la compañía no tiene código de actividad económica (Acteco) configurado')
    _put(em, 'acteco', acteco[:4])
    phone = latin1_text(company.get('phone'), 'emisor.telefono')
    if phone and len(phone) <= MAXLEN['telefono']:
        em['telefono'] = phone
    email = latin1_text(company.get('email'), 'emisor.correo')
    if email and len(email) <= MAXLEN['correo']:
        em['correo'] = email
    return em


def _receptor(partner, dte_type, export):
    boleta = dte_type in BOLETAS
    rc = {}
    vat = (partner.get('vat') or '').strip()
    if not vat and boleta:
        rc['rut'] = '66666666-6'  # the SII's generic buyer of boletas
    elif not vat and dte_type in EXPORTS:
        rc['rut'] = '55555555-5'  # the SII's foreign buyer of exports
    else:
        rc['rut'] = normalize_rut(vat, 'receptor.rut')
    name = latin1_text(partner.get('name'), 'receptor.razon_social', MAXLEN['razon_social'])
    if not name and not boleta:
        raise PayloadError('receptor.razon_social', 'falta la razón social del cliente')
    _put(rc, 'razon_social', name)
    giro = latin1_text(partner.get('activity_description'), 'receptor.giro', MAXLEN['giro_receptor'])
    street = latin1_text(partner.get('street'), 'receptor.direccion', MAXLEN['direccion'])
    commune = latin1_text(partner.get('commune'), 'receptor.comuna', MAXLEN['comuna'])
    city = latin1_text(partner.get('city'), 'receptor.ciudad', MAXLEN['ciudad'])
    if dte_type in ('33', '34'):
        # FMT A.57/A.60/A.61: GiroRecep, DirRecep and CmnaRecep are mandatory in facturas.
        if not giro:
            raise PayloadError('receptor.giro', 'falta el giro (descripción de actividad) del cliente')
        if not street:
            raise PayloadError('receptor.direccion', 'falta la dirección del cliente')
        if not commune:
            raise PayloadError('receptor.comuna', 'falta la comuna del cliente')
    if dte_type == '110':
        if not street:
            raise PayloadError('receptor.direccion', 'falta la dirección del cliente en el extranjero')
        if not city:
            raise PayloadError('receptor.ciudad', 'falta la ciudad del cliente en el extranjero')
    _put(rc, 'giro', giro)
    _put(rc, 'direccion', street)
    _put(rc, 'comuna', commune)
    _put(rc, 'ciudad', city)
    email = latin1_text(partner.get('email'), 'receptor.correo')
    if email and len(email) <= MAXLEN['correo']:
        rc['correo'] = email
    if export and export.get('nacionalidad'):
        rc['extranjero'] = {'nacionalidad': latin1_text(export['nacionalidad'], 'receptor.extranjero.nacionalidad')}
    return rc


# ------------------------------------------------------------------------------------------------
# lines and totals
# ------------------------------------------------------------------------------------------------

def _unit(uom, field):
    text = latin1_text(uom, field)
    if not text:
        return ''
    code = UOM_CODES.get(text.lower())
    if code:
        return code
    return text[:MAXLEN['unidad']].strip()


def _items(lines, dte_type, decimals, tolerance):
    """Lines -> (items, discount lines as global $ discounts, afecto sum, exento sum)."""
    exempt_doc = dte_type in EXEMPT_TYPES
    items, negatives = [], []
    afecto = exento = Decimal(0)
    for i, line in enumerate(lines):
        F = 'items[%d]' % len(items)
        qty = _dec(line.get('quantity'), F + '.cantidad')
        price = _dec(line.get('price_unit'), F + '.precio_unitario')
        pct = _dec(line.get('discount'), F + '.descuento_pct')
        subtotal = _dec(line.get('price_subtotal'), F + '.monto_total')
        exempt = bool(line.get('exempt'))
        name = latin1_text(line.get('name'), F + '.nombre')
        if exempt_doc and not exempt:
            raise PayloadError(F + '.exento', 'la línea «%s» tiene IVA, pero el documento %s es exento: quite el impuesto'
                               % (name, dte_type))
        if qty < 0 and price < 0:
            qty, price = -qty, -price
        if subtotal < 0 or price < 0:
            # Odoo's "discount line" (negative amount): the SII has no negative line amounts; it is a
            # global discount in pesos on the lines of its kind (DscRcgGlobal, TpoValor $).
            if pct:
                raise PayloadError(F + '.descuento_pct', 'una línea de monto negativo no puede tener descuento')
            negatives.append({
                'tipo': 'D', 'tipo_valor': '$', 'valor': abs(round_half_away(subtotal, decimals)),
                'glosa': latin1_text(name or 'Descuento', 'descuentos_globales.glosa', MAXLEN['glosa_dr']),
                'exento': exempt, 'line_index': i,
            })
            continue
        if qty <= 0:
            raise PayloadError(F + '.cantidad', 'la línea «%s» tiene cantidad %s: debe ser mayor que cero' % (name, qty))
        if not 0 <= pct <= 100:
            raise PayloadError(F + '.descuento_pct', 'descuento %s %% fuera de rango (0 a 100)' % pct)
        if not name:
            raise PayloadError(F + '.nombre', 'la línea %d no tiene nombre' % (i + 1))
        # What is sent (QtyItem and PrcItem have at most 6 decimals, DescuentoPct 2) is what the
        # amounts are computed from, so the service computes the same figures.
        qty, price, pct = round_half_away(qty, 6), round_half_away(price, 6), round_half_away(pct, 2)
        # SII: MontoItem = round(Qty x Prc) - round(round(Qty x Prc) x DescuentoPct / 100).
        base = round_half_away(qty * price, decimals)
        discount = round_half_away(base * pct / 100, 0) if pct else Decimal(0)
        amount = base - discount
        if abs(amount - subtotal) > tolerance:
            raise PayloadError(F + '.monto_total', 'el monto de la línea «%s» calculado como lo hace el SII (%s) difiere del de '
                                                   'Odoo (%s)' % (name, _json_number(amount), _json_number(subtotal)))
        item = {'numero_linea': len(items) + 1}
        _put(item, 'codigo', latin1_text(line.get('product_code'), F + '.codigo', MAXLEN['codigo']))
        full_name = name
        item['nombre'] = latin1_text(full_name, F + '.nombre', MAXLEN['nombre'])
        description = latin1_text(line.get('description'), F + '.descripcion', MAXLEN['descripcion'], multiline=True)
        if not description and len(full_name) > MAXLEN['nombre']:
            description = full_name[:MAXLEN['descripcion']]  # the name is cut at 80: keep it whole here
        if description and description != item['nombre']:
            item['descripcion'] = description
        item['cantidad'] = _json_number(qty)
        _put(item, 'unidad', _unit(line.get('uom'), F + '.unidad'))
        item['precio_unitario'] = _json_number(price)
        if pct:
            item['descuento_pct'] = _json_number(pct)
            if discount:
                item['descuento_monto'] = _json_number(discount)
        item['exento'] = exempt
        item['monto_total'] = _json_number(amount)
        items.append(item)
        if exempt:
            exento += amount
        else:
            afecto += amount
    return items, negatives, afecto, exento


def _global_discounts(snapshot, negatives, has_afecto, has_exento, afecto, exento, decimals):
    """Global discounts (DscRcgGlobal) and their effect on the afecto / exento sums."""
    out = []
    adj = {'afecto': Decimal(0), 'exento': Decimal(0)}
    pct = _dec(snapshot.get('global_discount_pct'), 'descuentos_globales[0].valor')
    if pct < 0 or pct > 100:
        raise PayloadError('descuentos_globales[0].valor', 'descuento global %s %% fuera de rango (0 a 100)' % pct)
    if pct:
        # One SII discount applies to one kind of line: an Odoo global % applies to both kinds.
        for kind, present, base in (('afecto', has_afecto, afecto), ('exento', has_exento, exento)):
            if not present:
                continue
            entry = {'tipo': 'D', 'glosa': 'Descuento global', 'tipo_valor': '%', 'valor': _json_number(pct)}
            if kind == 'exento':
                entry['exento'] = True
            out.append(entry)
            adj[kind] += round_half_away(base * pct / 100, decimals)
    for neg in negatives:
        kind = 'exento' if neg['exento'] else 'afecto'
        entry = {'tipo': 'D', 'tipo_valor': '$', 'valor': _json_number(neg['valor'])}
        _put(entry, 'glosa', neg['glosa'])
        if neg['exento']:
            entry['exento'] = True
        out.append(entry)
        adj[kind] += neg['valor']
    if len(out) > 20:
        raise PayloadError('descuentos_globales', 'el SII admite a lo más 20 descuentos o recargos globales')
    return out, adj


def _check_amount(field, computed, odoo, tolerance, label):
    if odoo is None:
        return
    odoo_d = _dec(odoo, field)
    if abs(computed - odoo_d) > tolerance:
        raise PayloadError(field, '%s calculado como lo hace el SII (%s) difiere del total de Odoo (%s): revise impuestos '
                                  '(solo se admite IVA 19 %%), descuentos y redondeos de la factura'
                           % (label, _json_number(computed), _json_number(odoo_d)))


# ------------------------------------------------------------------------------------------------
# references
# ------------------------------------------------------------------------------------------------

def _references(refs, dte_type):
    out = []
    for i, ref in enumerate(refs or []):
        F = 'referencias[%d]' % i
        doc_type = str(ref.get('doc_type') or '').strip()
        if not doc_type:
            raise PayloadError(F + '.tipo_documento', 'la referencia %d no indica el tipo de documento' % (i + 1))
        item = {'numero_linea': i + 1, 'tipo_documento': doc_type[:3]}
        folio = str(ref.get('folio') or '').strip()
        if not folio:
            raise PayloadError(F + '.folio', 'la referencia %d no indica el folio del documento referenciado' % (i + 1))
        folio = latin1_text(folio, F + '.folio')
        if len(folio) > MAXLEN['folio_ref']:
            raise PayloadError(F + '.folio', 'folio de referencia demasiado largo (máximo 18 caracteres)')
        item['folio'] = int(folio) if folio.isdigit() and doc_type in TAX_DOC_TYPES else folio
        _put(item, 'fecha', _date(ref.get('date'), F + '.fecha', required=doc_type in TAX_DOC_TYPES))
        code = ref.get('code')
        if code not in (None, False, ''):
            try:
                code = int(code)
            except (TypeError, ValueError):
                raise PayloadError(F + '.codigo', 'código de referencia inválido %r (1 anula, 2 corrige texto, '
                                                  '3 corrige montos)' % (code,)) from None
            if code not in (1, 2, 3):
                raise PayloadError(F + '.codigo', 'código de referencia inválido %r (1 anula, 2 corrige texto, '
                                                  '3 corrige montos)' % (code,))
            if dte_type in BOLETAS:
                raise PayloadError(F + '.codigo', 'las boletas no usan los códigos de referencia 1, 2 o 3')
            item['codigo'] = code
        _put(item, 'razon', latin1_text(ref.get('reason'), F + '.razon', MAXLEN['razon']))
        out.append(item)
    if len(out) > 40:
        raise PayloadError('referencias', 'el SII admite a lo más 40 referencias')
    if dte_type in NOTES:
        # FMT E.8 / REF-3-758: a note references the document it modifies, with CodRef.
        coded = [r for r in out if 'codigo' in r and r['tipo_documento'] in TAX_DOC_TYPES]
        if not out:
            raise PayloadError('referencias', 'una nota de crédito o débito debe referenciar el documento que modifica')
        if not coded:
            at = next((j for j, r in enumerate(out) if r['tipo_documento'] in TAX_DOC_TYPES), 0)
            raise PayloadError('referencias[%d].codigo' % at, 'la referencia de una nota de crédito o débito necesita el '
                                                              'código (1 anula, 2 corrige texto, 3 corrige montos)')
        if any(r['codigo'] in (1, 2) for r in coded) and len(coded) != 1:
            raise PayloadError('referencias', 'una nota que anula (1) o corrige texto (2) debe referenciar exactamente un '
                                              'documento')
        if dte_type in ('111', '112') and not any(r['tipo_documento'] in EXPORTS for r in coded):
            raise PayloadError('referencias', 'una nota de exportación debe referenciar el documento de exportación que '
                                              'modifica (110, 111 o 112)')
    return out


# ------------------------------------------------------------------------------------------------
# the document
# ------------------------------------------------------------------------------------------------

def build_dte_payload(snapshot):
    """The api-contract document JSON for one invoice snapshot (see the module docstring).

    Raises :class:`PayloadError` for anything the SII would refuse or that this mapping does not
    support (guía 52, additional taxes, exports without their customs data, a foreign currency on a
    national document, totals that do not match Odoo's).
    """
    dte_type = str(snapshot.get('dte_type') or '').strip()
    if dte_type == '52':
        raise PayloadError('dte_type', 'la guía de despacho (52) se emite desde el albarán de inventario, no desde una factura')
    if dte_type not in SUPPORTED_TYPES:
        raise PayloadError('dte_type', 'tipo de documento %r no soportado (se admiten %s)' % (dte_type, ', '.join(SUPPORTED_TYPES)))
    export = dte_type in EXPORTS
    boleta = dte_type in BOLETAS
    currency = str(snapshot.get('currency') or 'CLP').strip().upper()
    export_data = snapshot.get('export') or None
    if export:
        if not export_data or not export_data.get('exchange_rate'):
            raise PayloadError('otra_moneda.tipo_cambio', 'los documentos de exportación necesitan el tipo de cambio y los datos de '
                                                          'aduana, que esta versión no obtiene de Odoo: emítalos desde Timbre')
        if currency not in ADUANA_CURRENCIES:
            raise PayloadError('moneda', 'moneda %s no soportada en documentos de exportación' % currency)
        decimals = 4
    else:
        if currency != 'CLP':
            raise PayloadError('moneda', 'el documento %s se emite en pesos chilenos (CLP), no en %s' % (dte_type, currency))
        decimals = 0

    lines = snapshot.get('lines') or []
    if not lines:
        raise PayloadError('items', 'la factura no tiene líneas')
    max_lines = MAX_LINES_BOLETA if boleta else MAX_LINES
    # Per-line tolerance of the Odoo cross-check: 1 peso (1 cent in a foreign currency).
    unit = Decimal('0.01') if export else Decimal(1)

    payload = {'dte_type': dte_type}
    folio = int(snapshot.get('folio') or 0)
    if folio < 0:
        raise PayloadError('folio', 'folio negativo')
    payload['folio'] = folio
    payload['fecha_emision'] = _date(snapshot.get('date'), 'fecha_emision')
    if not boleta:
        term = snapshot.get('payment_term')
        if term == 'contado':
            payload['forma_pago'] = 1
        elif term == 'credito':
            payload['forma_pago'] = 2
        elif term not in (None, False, ''):
            raise PayloadError('forma_pago', 'forma de pago %r desconocida (contado o credito)' % (term,))
        _put(payload, 'fecha_vencimiento', _date(snapshot.get('due_date'), 'fecha_vencimiento', required=False))
    else:
        # Boletas: IndServicio is mandatory (3 = ventas y servicios); Odoo's prices are net here.
        payload['indicador_servicio'] = 3
        if dte_type == '39':
            payload['montos_brutos'] = False
    payload['emisor'] = _emisor(snapshot.get('company') or {}, dte_type)
    payload['receptor'] = _receptor(snapshot.get('partner') or {}, dte_type, export_data)

    items, negatives, afecto_lines, exento_lines = _items(lines, dte_type, decimals, unit)
    if not items:
        raise PayloadError('items', 'la factura no tiene líneas de monto positivo')
    if len(items) > max_lines:
        raise PayloadError('items', 'el SII admite a lo más %d líneas en un documento %s (la factura tiene %d)'
                           % (max_lines, dte_type, len(items)))
    payload['items'] = items
    has_afecto = any(not it['exento'] for it in items) or any(not n['exento'] for n in negatives)
    has_exento = any(it['exento'] for it in items) or any(n['exento'] for n in negatives)
    globals_, adj = _global_discounts(snapshot, negatives, has_afecto, has_exento, afecto_lines, exento_lines, decimals)
    if globals_:
        payload['descuentos_globales'] = globals_
    neto = afecto_lines - adj['afecto']
    exento = exento_lines - adj['exento']
    if neto < 0 or exento < 0:
        raise PayloadError('descuentos_globales', 'los descuentos superan el monto de las líneas')

    # Totals the SII's way (FMT A.107-A.124): IVA = round(neto x 19 %), half away from zero.
    totales = {}
    if export:
        totales['monto_exento'] = _json_number(exento)
        totales['monto_total'] = _json_number(exento)
        iva = Decimal(0)
        total = exento
    else:
        iva = round_half_away(neto * IVA_RATE / 100, 0) if has_afecto else Decimal(0)
        total = neto + iva + exento
        if has_afecto:
            totales['monto_neto'] = _json_number(neto)
        if has_exento:
            totales['monto_exento'] = _json_number(exento)
        if has_afecto:
            totales['iva'] = _json_number(iva)
        totales['monto_total'] = _json_number(total)
    payload['totales'] = totales

    amounts = snapshot.get('amounts') or {}
    tolerance = unit * max(1, len(lines))
    odoo_exempt = amounts.get('exempt')
    _check_amount('totales.monto_exento', exento, odoo_exempt, tolerance, 'El monto exento')
    if amounts.get('untaxed') is not None:
        odoo_neto = _dec(amounts['untaxed'], 'totales.monto_neto') - _dec(odoo_exempt, 'totales.monto_exento')
        _check_amount('totales.monto_neto', neto, odoo_neto, tolerance, 'El monto neto')
    _check_amount('totales.iva', iva, amounts.get('tax'), tolerance, 'El IVA')
    _check_amount('totales.monto_total', total, amounts.get('total'), tolerance, 'El total')

    refs = _references(snapshot.get('references'), dte_type)
    if refs:
        payload['referencias'] = refs
    elif dte_type in NOTES:  # pragma: no cover - _references raises first
        raise PayloadError('referencias', 'faltan las referencias')

    if export:
        payload['moneda'] = ADUANA_CURRENCIES[currency]
        rate = _dec(export_data.get('exchange_rate'), 'otra_moneda.tipo_cambio')
        if rate <= 0:
            raise PayloadError('otra_moneda.tipo_cambio', 'el tipo de cambio debe ser mayor que cero')
        payload['otra_moneda'] = {'moneda': 'PESO CL', 'tipo_cambio': _json_number(round_half_away(rate, 4))}
        if export_data.get('forma_pago_exportacion'):
            payload['forma_pago_exportacion'] = int(export_data['forma_pago_exportacion'])
        if export_data.get('aduana'):
            payload['transporte'] = {'aduana': dict(export_data['aduana'])}
    return payload
