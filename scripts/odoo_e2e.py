#!/usr/bin/env python3
"""End-to-end check of the Odoo 19 addon ``l10n_cl_dte`` against a running Timbre stack (run by hand).

What it proves: a posted Chilean factura (33) is sent from Odoo through the addon, the DTE service
stamps, signs and uploads it to the SII simulator, the simulator accepts it, and the new status comes
back into Odoo **by webhook** (the script never calls ``action_check_dte_status``; the addon's cron
only polls after 30 minutes) and is posted on the invoice's chatter as a note.

Steps (each printed with its timing):

1. both sides answer: Odoo ``GET /web/version``, Timbre ``GET /health`` on the DTE and AI services;
2. Odoo is prepared through its external API (JSON-2 ``POST /json/2/<model>/<method>`` with an API
   key; with ``--password`` a one-day API key is made first through the web session, and removed at
   the end): the addon is installed if needed, the user is made a DTE administrator, the company
   with the demo RUT 76086428-5 (the one ``npm start`` registers on the DTE service) is found or
   created with the Chilean chart, the addon's settings are written (service URLs, the Timbre token
   as API key, environment ``sim``), the connection is tested and "Registrar webhooks" is pressed
   (earlier subscriptions of the same Odoo URL are deleted on the DTE service first);
3. a customer (RUT 77894717-K, giro, address, taxpayer type 1) and a factura 33 with two IVA lines
   (``--with-34`` adds a factura exenta 34 with an exempt line) are created and posted, then
   ``action_generate_and_send_dte`` is called; folio, track id and status are printed;
4. the script waits (``--timeout``, 60 s) until ``dte_status`` is ``accepted`` and prints the notes
   of the invoice, the webhook deliveries Odoo recorded and what the DTE service says it delivered.

Exit code 0 on success, 1 with a message on the first failure, 2 on bad arguments.

Python 3 standard library only. Example, with ``npm start`` running in /work/main and Odoo on 8069::

    /usr/bin/python3 scripts/odoo_e2e.py --odoo-url http://127.0.0.1:8069 --db e2e_timbre \\
        --login admin --password admin --timbre-repo .

``--timbre-repo`` mints the token with ``npx timbre token`` (it reads ``.tmp/jwt.secret`` that
``npm start`` created); or pass ``--token`` (admin permission for 76086428-5 is needed to register
webhooks). See scripts/odoo_e2e.md.
"""
import argparse
import datetime
import http.cookiejar
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

DEMO_RUT = '76086428-5'
DEMO_NAME = 'EMPRESA DEMO TIMBRE SPA'
CUSTOMER_RUT = '77894717-K'
TOKEN_PERMISSIONS = 'admin,dte:generate,dte:read,caf:manage,cert:manage,ai:use'
FINAL_FAILURES = ('rejected', 'error')


class E2EError(Exception):
    """A failed step: the message says what and, when known, why."""


# ----------------------------------------------------------------------------------------------
# output
# ----------------------------------------------------------------------------------------------

class Report:
    """Prints numbered steps with their duration and the elapsed time since the start."""

    def __init__(self):
        self.t0 = time.monotonic()

    def elapsed(self):
        return time.monotonic() - self.t0

    def step(self, label):
        return _Step(self, label)

    @staticmethod
    def info(text):
        for line in str(text).splitlines() or ['']:
            print('      %s' % line, flush=True)


class _Step:
    def __init__(self, report, label):
        self.report, self.label = report, label

    def __enter__(self):
        self.start = time.monotonic()
        print('[%7.2fs] %s' % (self.report.elapsed(), self.label), flush=True)
        return self

    def __exit__(self, exc_type, exc, tb):
        took = time.monotonic() - self.start
        if exc_type is None:
            print('          ok (%.2f s)' % took, flush=True)
        else:
            print('          FAILED (%.2f s)' % took, flush=True)
        return False


def html_to_text(html):
    """Chatter bodies are HTML: a readable one-liner."""
    text = re.sub(r'<br\s*/?>', ' / ', html or '')
    text = re.sub(r'<[^>]+>', '', text)
    for a, b in (('&gt;', '>'), ('&lt;', '<'), ('&amp;', '&'), ('&quot;', '"'), ('&#39;', "'"), ('&nbsp;', ' ')):
        text = text.replace(a, b)
    return ' '.join(text.split())


# ----------------------------------------------------------------------------------------------
# HTTP
# ----------------------------------------------------------------------------------------------

def http_json(method, url, body=None, headers=None, timeout=60, opener=None):
    """``(status, parsed JSON or text)``; HTTP errors are answers, not exceptions."""
    data = None
    hdrs = {'Accept': 'application/json'}
    if body is not None:
        data = json.dumps(body).encode()
        hdrs['Content-Type'] = 'application/json'
    hdrs.update(headers or {})
    req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
    try:
        with (opener.open(req, timeout=timeout) if opener else urllib.request.urlopen(req, timeout=timeout)) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    except (urllib.error.URLError, OSError) as err:
        raise E2EError('%s %s: no answer (%s)' % (method, url, getattr(err, 'reason', err))) from err
    text = raw.decode('utf-8', 'replace')
    try:
        return status, json.loads(text) if text else None
    except ValueError:
        return status, text


def problem_text(answer):
    """The useful part of an error answer (problem+json, Odoo JSON-2 or JSON-RPC error)."""
    if isinstance(answer, dict):
        if 'error' in answer and isinstance(answer['error'], dict):  # JSON-RPC
            data = answer['error'].get('data') or {}
            return '%s: %s' % (data.get('name') or answer['error'].get('message'), data.get('message') or '')
        parts = [str(answer.get(k)) for k in ('name', 'title', 'code', 'message', 'detail') if answer.get(k)]
        if answer.get('errors'):
            parts.append(json.dumps(answer['errors'], ensure_ascii=False))
        return ' '.join(parts) or json.dumps(answer, ensure_ascii=False)[:500]
    return str(answer)[:500]


# ----------------------------------------------------------------------------------------------
# Odoo external API
# ----------------------------------------------------------------------------------------------

class Odoo:
    """JSON-2 client (``Authorization: Bearer <API key>``, ``X-Odoo-Database``)."""

    def __init__(self, url, db, api_key=None, context=None):
        self.url, self.db, self.api_key = url.rstrip('/'), db, api_key
        self.context = dict(context or {})
        self.temp_key = False

    # -- API key from a password --------------------------------------------------------------

    def make_api_key(self, login, password):
        """Log in on a web session and make a one-day API key (the UI's wizard, identity check
        included), so that everything else goes through JSON-2."""
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

        def rpc(path, params):
            status, answer = http_json('POST', self.url + path, {'jsonrpc': '2.0', 'method': 'call', 'id': 1,
                                                                 'params': params}, opener=opener)
            if status != 200 or not isinstance(answer, dict) or 'error' in answer:
                raise E2EError('Odoo %s: HTTP %s %s' % (path, status, problem_text(answer)))
            return answer.get('result')

        def call_kw(model, method, args, kwargs=None):
            return rpc('/web/dataset/call_kw/%s/%s' % (model, method),
                       {'model': model, 'method': method, 'args': args, 'kwargs': kwargs or {}})

        def identity_checked(model, method, args):
            """A ``@check_identity`` method: answer the password re-check the way the UI does."""
            action = call_kw(model, method, args)
            if isinstance(action, dict) and action.get('res_model') == 'res.users.identitycheck':
                action = call_kw('res.users.identitycheck', 'run_check', [[action['res_id']]],
                                 {'context': {'password': password}})
            return action

        info = rpc('/web/session/authenticate', {'db': self.db, 'login': login, 'password': password})
        if not info or not info.get('uid'):
            raise E2EError('Odoo login refused for %s on %s' % (login, self.db))
        name = 'timbre-e2e %s' % datetime.datetime.now().strftime('%Y-%m-%d %H:%M:%S.%f')
        desc = call_kw('res.users.apikeys.description', 'create', [{'name': name, 'duration': '1'}])
        desc_id = desc[0] if isinstance(desc, list) else desc
        action = identity_checked('res.users.apikeys.description', 'make_key', [[desc_id]])
        key = (action.get('context') or {}).get('default_key')
        if not key:
            raise E2EError('Odoo did not return an API key: %s' % json.dumps(action)[:300])
        self.api_key, self.temp_key = key, name
        self._remove_key = lambda ids: identity_checked('res.users.apikeys', 'remove', [ids])
        return key

    # -- JSON-2 ---------------------------------------------------------------------------------

    def call(self, model, method, ids=None, context=None, **kwargs):
        body = dict(kwargs)
        if ids is not None:
            body['ids'] = list(ids)
        ctx = dict(self.context, **(context or {}))
        if ctx:
            body['context'] = ctx
        status, answer = http_json('POST', '%s/json/2/%s/%s' % (self.url, model, method), body, headers={
            'Authorization': 'Bearer %s' % self.api_key, 'X-Odoo-Database': self.db}, timeout=300)
        if status != 200:
            raise E2EError('Odoo %s.%s: HTTP %s %s' % (model, method, status, problem_text(answer)))
        return answer

    def search_read(self, model, domain, fields, **kw):
        return self.call(model, 'search_read', domain=domain, fields=fields, **kw)

    def read1(self, model, rid, fields):
        rows = self.call(model, 'read', ids=[rid], fields=fields)
        if not rows:
            raise E2EError('%s %s not found' % (model, rid))
        return rows[0]

    def xmlid(self, xmlid):
        module, name = xmlid.split('.', 1)
        rows = self.search_read('ir.model.data', [('module', '=', module), ('name', '=', name)], ['res_id'])
        if not rows:
            raise E2EError('Odoo has no record %s' % xmlid)
        return rows[0]['res_id']

    def drop_temp_key(self):
        """Remove the API key this run made (best effort)."""
        if not self.temp_key:
            return
        try:
            keys = self.search_read('res.users.apikeys', [('name', '=', self.temp_key)], ['id'])
            if keys:
                self._remove_key([k['id'] for k in keys])  # @check_identity: through the web session
        except E2EError as err:
            print('warning: the temporary API key "%s" was not removed: %s' % (self.temp_key, err), flush=True)


# ----------------------------------------------------------------------------------------------
# Timbre
# ----------------------------------------------------------------------------------------------

class Timbre:
    def __init__(self, dte_url, ai_url, token):
        self.dte_url, self.ai_url, self.token = dte_url.rstrip('/'), ai_url.rstrip('/'), token

    def get(self, base, path, params=None):
        url = base + path + ('?' + urllib.parse.urlencode(params) if params else '')
        return http_json('GET', url, headers={'Authorization': 'Bearer %s' % self.token} if self.token else None)

    def delete(self, path):
        return http_json('DELETE', self.dte_url + path, headers={'Authorization': 'Bearer %s' % self.token})


def mint_token(repo, company):
    """``npx timbre token`` in the Timbre checkout (it signs with ``.tmp/jwt.secret`` of ``npm start``)."""
    cmd = ['npx', '--no-install', 'timbre', 'token', '--company', company, '--permissions', TOKEN_PERMISSIONS,
           '--expires', '2h']
    try:
        out = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise E2EError('cannot run %s: %s' % (' '.join(cmd), err)) from err
    token = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ''
    if out.returncode != 0 or token.count('.') != 2:
        raise E2EError('timbre token failed (rc %s): %s' % (out.returncode, (out.stderr or out.stdout).strip()[:400]))
    return token


# ----------------------------------------------------------------------------------------------
# the run
# ----------------------------------------------------------------------------------------------

def check_services(rep, args, timbre):
    with rep.step('1. both sides answer'):
        status, answer = http_json('GET', args.odoo_url.rstrip('/') + '/web/version')
        if status != 200 or not isinstance(answer, dict):
            raise E2EError('Odoo /web/version: HTTP %s %s' % (status, problem_text(answer)))
        rep.info('Odoo %s at %s' % (answer.get('version'), args.odoo_url))
        if not str(answer.get('version', '')).startswith('19'):
            raise E2EError('Odoo %s: this addon needs Odoo 19' % answer.get('version'))
        for name, base in (('DTE service', timbre.dte_url), ('AI service', timbre.ai_url)):
            status, answer = timbre.get(base, '/health')
            if status != 200:
                raise E2EError('Timbre %s %s/health: HTTP %s %s' % (name, base, status, problem_text(answer)))
            rep.info('Timbre %s at %s: %s' % (name, base, json.dumps(answer, ensure_ascii=False)[:160]))
        # /health needs no token: check it here (admin for the company is what registering webhooks needs),
        # before Odoo's settings get a token the service refuses.
        status, answer = timbre.get(timbre.dte_url, '/api/v1/webhooks/subscriptions', {'rut_company': DEMO_RUT})
        if status != 200:
            raise E2EError('the DTE service refuses the token for %s (HTTP %s %s): it needs the admin permission for '
                           'that company (npx timbre token --company %s --permissions %s)'
                           % (DEMO_RUT, status, problem_text(answer), DEMO_RUT, TOKEN_PERMISSIONS))
        rep.info('the token is an admin of %s on the DTE service' % DEMO_RUT)


def ensure_module(rep, odoo, upgrade):
    rows = odoo.search_read('ir.module.module', [('name', '=', 'l10n_cl_dte')], ['state', 'installed_version'])
    if not rows:
        odoo.call('ir.module.module', 'update_list')
        rows = odoo.search_read('ir.module.module', [('name', '=', 'l10n_cl_dte')], ['state', 'installed_version'])
    if not rows:
        raise E2EError('Odoo does not know the module l10n_cl_dte: is /work/main/odoo in its --addons-path?')
    mod = rows[0]
    if mod['state'] != 'installed':
        rep.info('installing l10n_cl_dte (state %s) ...' % mod['state'])
        odoo.call('ir.module.module', 'button_immediate_install', ids=[mod['id']])
    elif upgrade:
        rep.info('upgrading l10n_cl_dte ...')
        odoo.call('ir.module.module', 'button_immediate_upgrade', ids=[mod['id']])
    mod = odoo.read1('ir.module.module', mod['id'], ['state', 'installed_version'])
    if mod['state'] != 'installed':
        raise E2EError('l10n_cl_dte is %s after installation' % mod['state'])
    rep.info('l10n_cl_dte %s installed' % mod['installed_version'])


def ensure_company(rep, odoo, user):
    """The company with the demo RUT, Chilean chart, giro, address, Acteco; returns its id."""
    cl = odoo.search_read('res.country', [('code', '=', 'CL')], ['id'])[0]['id']
    companies = odoo.search_read('res.company', [('vat', 'in', [DEMO_RUT, 'CL' + DEMO_RUT.replace('-', '')])],
                                 ['name', 'chart_template', 'currency_id'])
    if companies:
        cid = companies[0]['id']
        rep.info('company %s (id %s) has RUT %s' % (companies[0]['name'], cid, DEMO_RUT))
    else:
        cid = odoo.call('res.company', 'create', vals_list=[{'name': DEMO_NAME, 'country_id': cl, 'vat': DEMO_RUT}])[0]
        rep.info('created company %s (id %s) with RUT %s' % (DEMO_NAME, cid, DEMO_RUT))
    if cid not in user['company_ids']:
        odoo.call('res.users', 'write', ids=[user['id']], vals={'company_ids': [(4, cid)]})
    odoo.context['allowed_company_ids'] = [cid]
    company = odoo.read1('res.company', cid, ['chart_template', 'currency_id', 'partner_id'])
    if company['chart_template'] != 'cl':
        rep.info('loading the Chilean chart of accounts (was %s) ...' % company['chart_template'])
        odoo.call('account.chart.template', 'try_loading', ids=[], template_code='cl', company=cid)
    santiago = odoo.search_read('res.country.state', [('country_id', '=', cl), ('name', 'ilike', 'Metropolitana')], ['id'])
    odoo.call('res.company', 'write', ids=[cid], vals={
        'country_id': cl,
        'l10n_cl_activity_description': 'Desarrollo de software y servicios de facturación electrónica',
        'dte_acteco': '620200',
        'street': 'Av. Providencia 1234, Oficina 501',
        'city': 'Providencia',
        'state_id': santiago[0]['id'] if santiago else False,
        'phone': '+56 2 2345 6789',
        'email': 'facturacion@demo-timbre.cl',
    })
    odoo.call('res.partner', 'write', ids=[company['partner_id'][0]], vals={'l10n_cl_sii_taxpayer_type': '1'})
    company = odoo.read1('res.company', cid, ['name', 'vat', 'chart_template', 'currency_id', 'l10n_cl_activity_description'])
    rep.info('company %(name)s, RUT %(vat)s, chart %(chart_template)s, giro "%(l10n_cl_activity_description)s"' % company
             + ', currency %s' % company['currency_id'][1])
    if company['chart_template'] != 'cl' or company['currency_id'][1] != 'CLP':
        raise E2EError('the company is not Chilean yet (chart %s, currency %s)' % (company['chart_template'], company['currency_id'][1]))
    return cid


def configure(rep, args, odoo, timbre, cid):
    """Settings, web.base.url, test connection, webhook registration."""
    base = args.odoo_url.rstrip('/')
    current = odoo.call('ir.config_parameter', 'get_param', key='web.base.url')
    if current != base:
        odoo.call('ir.config_parameter', 'set_param', key='web.base.url', value=base)
        rep.info('web.base.url %s -> %s (the webhook URLs are built from it)' % (current, base))
    vals = {'dte_service_url': timbre.dte_url, 'dte_ai_service_url': timbre.ai_url, 'dte_api_key': timbre.token,
            'dte_environment': 'sim'}
    settings_id = odoo.call('res.config.settings', 'create', vals_list=[vals])[0]
    answer = odoo.call('res.config.settings', 'action_dte_test_connection', ids=[settings_id])
    message = ((answer or {}).get('params') or {}).get('message', '')
    rep.info('test connection: %s' % message.replace('\n', '; '))
    if ((answer or {}).get('params') or {}).get('type') != 'success':
        raise E2EError('"Probar conexión" failed: %s' % message)

    # Earlier subscriptions of this Odoo (a previous run) would sign with a secret Odoo no longer has.
    status, subs = timbre.get(timbre.dte_url, '/api/v1/webhooks/subscriptions', {'rut_company': DEMO_RUT})
    if status == 200:
        items = subs.get('items', subs) if isinstance(subs, dict) else subs
        for sub in items or []:
            if str(sub.get('url', '')).startswith(base + '/dte/webhook/'):
                timbre.delete('/api/v1/webhooks/subscriptions/%s' % sub['id'])
                rep.info('deleted old subscription %s (%s)' % (sub['id'], sub['url']))
    else:
        rep.info('cannot list subscriptions (HTTP %s %s): continuing' % (status, problem_text(subs)))

    settings_id = odoo.call('res.config.settings', 'create', vals_list=[vals])[0]
    answer = odoo.call('res.config.settings', 'action_dte_register_webhooks', ids=[settings_id])
    rep.info('register webhooks: %s' % (((answer or {}).get('params') or {}).get('message') or answer))
    secret = odoo.call('ir.config_parameter', 'get_param', key='l10n_cl_dte.webhook_secret') or ''
    if not secret:
        raise E2EError('no l10n_cl_dte.webhook_secret after "Registrar webhooks"')
    rep.info('webhook secret stored in Odoo (%d characters, not shown)' % len(secret))
    status, subs = timbre.get(timbre.dte_url, '/api/v1/webhooks/subscriptions', {'rut_company': DEMO_RUT})
    items = (subs.get('items', subs) if isinstance(subs, dict) else subs) if status == 200 else []
    mine = [s for s in items or [] if str(s.get('url', '')).startswith(base + '/dte/webhook/')]
    for sub in mine:
        rep.info('DTE service subscription %s: %s %s' % (sub.get('id'), sub.get('url'), ','.join(sub.get('events') or [])))
    if not mine:
        raise E2EError('the DTE service lists no subscription to %s/dte/webhook/...' % base)


def ensure_customer(rep, odoo):
    cl = odoo.search_read('res.country', [('code', '=', 'CL')], ['id'])[0]['id']
    rut_type = odoo.xmlid('l10n_cl.it_RUT')
    found = odoo.search_read('res.partner', [('vat', '=', CUSTOMER_RUT), ('is_company', '=', True)], ['name'])
    vals = {
        'name': 'COMERCIAL ÑUÑOA LIMITADA', 'is_company': True, 'country_id': cl,
        'l10n_latam_identification_type_id': rut_type, 'vat': CUSTOMER_RUT,
        'l10n_cl_sii_taxpayer_type': '1', 'l10n_cl_activity_description': 'Venta de artículos de oficina',
        'street': 'Av. Irarrázaval 2950', 'city': 'Ñuñoa', 'email': 'pagos@comercialnunoa.cl',
    }
    if found:
        pid = found[0]['id']
        odoo.call('res.partner', 'write', ids=[pid], vals=vals)
    else:
        pid = odoo.call('res.partner', 'create', vals_list=[vals])[0]
    rep.info('customer %s, RUT %s (id %s)' % (vals['name'], CUSTOMER_RUT, pid))
    return pid


def create_invoice(rep, odoo, cid, partner_id, doc_xmlid, lines):
    doc_type = odoo.xmlid(doc_xmlid)
    journal = odoo.search_read('account.journal', [('company_id', '=', cid), ('type', '=', 'sale')], ['name'], limit=1)
    if not journal:
        raise E2EError('the company has no sales journal (chart not loaded?)')
    move_id = odoo.call('account.move', 'create', vals_list=[{
        'move_type': 'out_invoice', 'partner_id': partner_id, 'journal_id': journal[0]['id'],
        'invoice_date': datetime.date.today().isoformat(), 'l10n_latam_document_type_id': doc_type,
        'invoice_line_ids': [(0, 0, line) for line in lines],
    }])[0]
    odoo.call('account.move', 'action_post', ids=[move_id])
    move = odoo.read1('account.move', move_id, ['name', 'state', 'dte_type', 'amount_untaxed', 'amount_tax', 'amount_total'])
    rep.info('%(name)s (id %(id)s) %(state)s, DTE type %(dte_type)s, neto %(amount_untaxed).0f, IVA %(amount_tax).0f, '
             'total %(amount_total).0f' % move)
    return move_id


def send(rep, odoo, move_id):
    answer = odoo.call('account.move', 'action_generate_and_send_dte', ids=[move_id])
    params = (answer or {}).get('params') or {}
    rep.info('action_generate_and_send_dte: [%s] %s' % (params.get('type'), params.get('message')))
    move = odoo.read1('account.move', move_id, ['name', 'dte_type', 'dte_folio', 'dte_sii_track_id', 'dte_status', 'dte_service_id',
                                               'dte_error_message', 'dte_pdf_attachment_id', 'dte_last_status_check'])
    rep.info('%(name)s: folio %(dte_folio)s, track id %(dte_sii_track_id)s, status %(dte_status)s, '
             'service id %(dte_service_id)s' % move + ', PDF %s' % ('attached' if move['dte_pdf_attachment_id'] else 'none'))
    if move['dte_status'] in FINAL_FAILURES or not move['dte_folio']:
        raise E2EError('%s was not issued: status %s, %s' % (move['name'], move['dte_status'], move['dte_error_message']))
    return move


def wait_accepted(rep, odoo, timbre, moves, timeout):
    """Poll Odoo's own fields (never the status action) until every move is accepted."""
    deadline = time.monotonic() + timeout
    seen = {m['id']: m['dte_status'] for m in moves}
    start = time.monotonic()
    while True:
        rows = odoo.call('account.move', 'read', ids=list(seen), fields=['name', 'dte_status', 'dte_error_message'])
        for row in rows:
            if row['dte_status'] != seen[row['id']]:
                rep.info('+%.1f s  %s: %s -> %s' % (time.monotonic() - start, row['name'], seen[row['id']], row['dte_status']))
                seen[row['id']] = row['dte_status']
            if row['dte_status'] in FINAL_FAILURES:
                raise E2EError('%s: %s (%s)' % (row['name'], row['dte_status'], row['dte_error_message']))
        if all(s == 'accepted' for s in seen.values()):
            return time.monotonic() - start
        if time.monotonic() > deadline:
            show_deliveries(rep, timbre)
            raise E2EError('no "accepted" after %d s (statuses: %s); the webhook did not arrive or was refused — '
                           'see the DTE service deliveries above and the Odoo log'
                           % (timeout, ', '.join('%s=%s' % kv for kv in seen.items())))
        time.sleep(0.5)


def show_result(rep, odoo, move):
    """The invoice's chatter; the status note must come from the webhook and nothing may have polled."""
    msgs = odoo.search_read('mail.message', [('model', '=', 'account.move'), ('res_id', '=', move['id'])],
                            ['date', 'author_id', 'body', 'subtype_id', 'message_type'], order='id asc')
    rep.info('chatter of %s:' % move['name'])
    for m in msgs:
        body = html_to_text(m['body'])
        if body:
            rep.info('  %s  %s [%s]: %s' % (m['date'], (m['author_id'] or [0, '-'])[1], (m['subtype_id'] or [0, '-'])[1], body))
    if not [m for m in msgs if 'webhook' in (m['body'] or '') and 'Aceptado' in (m['body'] or '')]:
        raise E2EError('no chatter note of %s says the status became "Aceptado" by webhook' % move['name'])
    final = odoo.read1('account.move', move['id'], ['dte_last_status_check'])
    if final['dte_last_status_check'] != move['dte_last_status_check']:
        raise E2EError('dte_last_status_check of %s moved (%s -> %s): something polled the status, the webhook path '
                       'is not proven' % (move['name'], move['dte_last_status_check'], final['dte_last_status_check']))


def show_webhook_trail(rep, odoo, timbre, moves):
    """What the DTE service delivered for these documents, and what Odoo recorded of it."""
    ours = {(str(m['dte_type']), int(m['dte_folio'])) for m in moves}
    items = [d for d in show_deliveries(rep, timbre, quiet=True)
             if (str((d.get('payload') or {}).get('dte_type')), (d.get('payload') or {}).get('folio')) in ours]
    here = [d for d in items if str(d.get('url', '')).startswith(odoo.url + '/')]
    if len(here) < len(items):
        rep.info('(%d more to other subscribers of %s, e.g. another Odoo, left out)' % (len(items) - len(here), DEMO_RUT))
    items = here
    recorded = {d['delivery_id']: d for d in odoo.search_read(
        'dte.webhook.delivery', [('delivery_id', 'in', [d.get('delivery_id') for d in items])],
        ['delivery_id', 'event', 'received_at'])}
    for d in sorted(items, key=lambda d: d.get('id') or 0):
        p = d.get('payload') or {}
        got = recorded.get(d.get('delivery_id'))
        rep.info('%s %s: DTE %s folio %s %s -> %s; service: %s (HTTP %s, %s attempt(s)); Odoo: %s' % (
            d.get('delivery_id'), d.get('event'), p.get('dte_type'), p.get('folio'), p.get('old_status'),
            p.get('new_status'), d.get('status'), d.get('last_status_code'), d.get('attempts'),
            'recorded at %s' % got['received_at'] if got else 'not recorded (ignored or refused)'))


def show_deliveries(rep, timbre, quiet=False):
    status, answer = timbre.get(timbre.dte_url, '/api/v1/webhooks/deliveries', {'rut_company': DEMO_RUT, 'limit': 20})
    if status != 200:
        rep.info('DTE service deliveries: HTTP %s %s' % (status, problem_text(answer)))
        return []
    items = answer.get('items', answer) if isinstance(answer, dict) else answer
    if not quiet:
        for d in items or []:
            rep.info('DTE service delivery %s %s to %s: %s, attempts %s, last HTTP %s %s' % (
                d.get('delivery_id'), d.get('event'), d.get('url'), d.get('status'), d.get('attempts'),
                d.get('last_status_code'), d.get('last_error') or ''))
    return items or []


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--odoo-url', default='http://127.0.0.1:8069')
    p.add_argument('--db', required=True, help='Odoo database (sent as X-Odoo-Database)')
    p.add_argument('--login', default='admin', help='Odoo user (default admin); must be a system administrator')
    p.add_argument('--password', help='Odoo password: a one-day API key is made for the run and removed after')
    p.add_argument('--api-key', help='Odoo API key of --login (instead of --password)')
    p.add_argument('--timbre-dte-url', default='http://127.0.0.1:8001')
    p.add_argument('--timbre-ai-url', default='http://127.0.0.1:8002')
    p.add_argument('--token', help='Timbre JWT with admin for %s (default: minted with --timbre-repo)' % DEMO_RUT)
    p.add_argument('--timbre-repo', help='Timbre checkout where `npm start` runs: mints the token with `npx timbre token`')
    p.add_argument('--with-34', action='store_true', help='also issue a factura exenta (34) with an exempt line')
    p.add_argument('--upgrade', action='store_true', help='upgrade l10n_cl_dte before the run (-u)')
    p.add_argument('--timeout', type=float, default=60, help='seconds to wait for "accepted" by webhook (default 60)')
    args = p.parse_args(argv)
    if not (args.password or args.api_key):
        p.error('give --password or --api-key')
    if not (args.token or args.timbre_repo):
        p.error('give --token or --timbre-repo')
    return args


def run(args):
    rep = Report()
    print('Timbre x Odoo 19 end-to-end: %s db %s <-> DTE %s, AI %s' % (args.odoo_url, args.db, args.timbre_dte_url, args.timbre_ai_url))
    token = args.token
    if not token:
        with rep.step('0. mint a Timbre token (npx timbre token --company %s --permissions %s)' % (DEMO_RUT, TOKEN_PERMISSIONS)):
            token = mint_token(args.timbre_repo, DEMO_RUT)
    timbre = Timbre(args.timbre_dte_url, args.timbre_ai_url, token)
    check_services(rep, args, timbre)

    odoo = Odoo(args.odoo_url, args.db, api_key=args.api_key)
    try:
        with rep.step('2. prepare Odoo through JSON-2 (addon, company, settings, webhooks)'):
            if not odoo.api_key:
                odoo.make_api_key(args.login, args.password)
                rep.info('made a one-day API key for %s (removed at the end)' % args.login)
            users = odoo.search_read('res.users', [('login', '=', args.login)], ['company_ids', 'company_id'])
            if not users:
                raise E2EError('no Odoo user %s' % args.login)
            user = users[0]
            ensure_module(rep, odoo, args.upgrade)
            admin_group = odoo.xmlid('l10n_cl_dte.group_dte_admin')
            odoo.call('res.users', 'write', ids=[user['id']], vals={'group_ids': [(4, admin_group)]})
            cid = ensure_company(rep, odoo, user)
            configure(rep, args, odoo, timbre, cid)

        moves = []
        with rep.step('3. customer, factura 33 (2 lines with IVA 19 %%)%s, post, action_generate_and_send_dte'
                      % (' + factura exenta 34' if args.with_34 else '')):
            partner_id = ensure_customer(rep, odoo)
            iva = odoo.search_read('account.tax', [('company_id', '=', cid), ('type_tax_use', '=', 'sale'),
                                                   ('l10n_cl_sii_code', '=', 14), ('amount', '=', 19)], ['name'], limit=1)
            if not iva:
                raise E2EError('no sale IVA 19 %% tax (l10n_cl_sii_code 14) in company %s' % cid)
            tax = [(6, 0, [iva[0]['id']])]
            invoices = [('l10n_cl.dc_a_f_dte', [
                {'name': 'Notebook Lenovo ThinkPad E14', 'quantity': 2, 'price_unit': 459900, 'discount': 10, 'tax_ids': tax},
                {'name': 'Mouse inalámbrico Logitech M185', 'quantity': 3, 'price_unit': 12990, 'tax_ids': tax},
            ])]
            if args.with_34:
                invoices.append(('l10n_cl.dc_y_f_dte', [
                    {'name': 'Capacitación en facturación electrónica', 'quantity': 1, 'price_unit': 150000, 'tax_ids': [(6, 0, [])]},
                ]))
            for doc_xmlid, lines in invoices:
                move_id = create_invoice(rep, odoo, cid, partner_id, doc_xmlid, lines)
                t = time.monotonic()
                move = send(rep, odoo, move_id)
                rep.info('sent in %.2f s' % (time.monotonic() - t))
                moves.append(move)

        with rep.step('4. wait (<= %d s) for "accepted" by webhook (action_check_dte_status is NOT called)' % args.timeout):
            took = wait_accepted(rep, odoo, timbre, moves, args.timeout)
            rep.info('accepted by webhook %.1f s after the send returned' % took)
            for move in moves:
                show_result(rep, odoo, move)
            rep.info('webhook deliveries of these documents:')
            show_webhook_trail(rep, odoo, timbre, moves)
    finally:
        odoo.drop_temp_key()
    print('[%7.2fs] PASS: %s' % (rep.elapsed(), '; '.join(
        '%s folio %s track id %s accepted' % (m['name'], m['dte_folio'], m['dte_sii_track_id']) for m in moves)))
    return 0


def main(argv=None):
    args = parse_args(argv)
    try:
        return run(args)
    except E2EError as err:
        print('FAIL: %s' % err, file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print('FAIL: interrupted', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
