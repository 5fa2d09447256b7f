"""``dte.sii.news``: SII regulatory changes (circulares, resoluciones, noticias) reported by the
Timbre AI service's monitor through the ``/dte/webhook/sii_change`` webhook.

Company-independent (the SII's rules apply to every company). One record per (tipo, numero, fecha):
a repeated notification updates it instead of duplicating it. Priority ≥ 8 notifies the DTE
administrators (a note addressed to them: it lands in their Odoo inbox).
"""
from markupsafe import Markup

from odoo import api, fields, models

NOTIFY_PRIORITY = 8


class DteSiiNews(models.Model):
    _name = 'dte.sii.news'
    _description = 'Novedad normativa del SII'
    _inherit = ['mail.thread']
    _order = 'fecha desc, prioridad desc, id desc'
    _rec_name = 'titulo'

    _tipo_numero_fecha_uniq = models.Constraint(
        'UNIQUE(tipo, numero, fecha)', 'Esta novedad del SII ya está registrada.')

    tipo = fields.Selection([('circular', 'Circular'), ('resolucion', 'Resolución'), ('noticia', 'Noticia')],
                            string='Tipo', required=True, index=True)
    numero = fields.Char(string='Número')
    fecha = fields.Date(string='Fecha de publicación', required=True, index=True)
    vigencia = fields.Date(string='Vigencia')
    titulo = fields.Char(string='Título', required=True)
    resumen = fields.Text(string='Resumen')
    impacto = fields.Text(string='Impacto')
    prioridad = fields.Integer(string='Prioridad', default=5, help='1 (baja) a 10 (crítica).')
    priority_level = fields.Selection([('alta', 'Alta'), ('media', 'Media'), ('baja', 'Baja')],
                                      string='Nivel', compute='_compute_priority_level', store=True)
    url = fields.Char(string='Enlace')
    admins_notified = fields.Boolean(string='Administradores notificados', readonly=True, copy=False)

    @api.depends('prioridad')
    def _compute_priority_level(self):
        for news in self:
            news.priority_level = 'alta' if news.prioridad >= NOTIFY_PRIORITY else (
                'media' if news.prioridad >= 5 else 'baja')

    @api.model
    def _values_from_payload(self, payload):
        tipos = dict(self._fields['tipo'].selection)
        tipo = str(payload.get('tipo') or '').strip().lower()
        if tipo not in tipos:
            raise ValueError('tipo')
        try:
            prioridad = max(1, min(10, int(payload.get('prioridad') or 5)))
        except (TypeError, ValueError):
            raise ValueError('prioridad') from None
        fecha = fields.Date.to_date(str(payload.get('fecha') or '')[:10] or None)
        if not fecha or not payload.get('titulo'):
            raise ValueError('fecha' if not fecha else 'titulo')
        vigencia = payload.get('vigencia')
        return {
            'tipo': tipo,
            'numero': str(payload.get('numero') or '').strip() or False,
            'fecha': fecha,
            'vigencia': fields.Date.to_date(str(vigencia)[:10]) if vigencia else False,
            'titulo': str(payload['titulo'])[:500],
            'resumen': payload.get('resumen') or False,
            'impacto': payload.get('impacto') or False,
            'prioridad': prioridad,
            'url': payload.get('url') or False,
        }

    @api.model
    def _upsert_from_payload(self, payload):
        """Create or update the news of a ``sii.regulatory_change`` body; ``(record, created)``.
        Raises ValueError naming the bad field."""
        vals = self._values_from_payload(payload)
        news = self.sudo().search([('tipo', '=', vals['tipo']), ('numero', '=', vals['numero']),
                                   ('fecha', '=', vals['fecha'])], limit=1)
        created = not news
        if news:
            news.write(vals)
        else:
            news = self.sudo().create(vals)
        news._notify_admins_if_urgent()
        return news, created

    def _notify_admins_if_urgent(self):
        """Priority ≥ 8: a note addressed to every DTE administrator (their inbox), once per news."""
        group = self.env.ref('l10n_cl_dte.group_dte_admin', raise_if_not_found=False)
        if not group:
            return
        for news in self.filtered(lambda n: n.prioridad >= NOTIFY_PRIORITY and not n.admins_notified):
            partners = group.sudo().all_user_ids.filtered(lambda u: u.active and not u.share).partner_id
            body = Markup('<p><b>%s</b> %s</p><p>%s</p>') % (
                self.env._('Novedad SII de prioridad %s:', news.prioridad), news.titulo, news.impacto or news.resumen or '')
            if news.url:
                body += Markup('<p><a href="%s" target="_blank">%s</a></p>') % (news.url, news.url)
            news.message_post(body=body, partner_ids=partners.ids, subtype_xmlid='mail.mt_note',
                              message_type='notification')
            news.admins_notified = True
