"""``dte.webhook.delivery``: the ``X-Timbre-Delivery`` ids already processed.

The DTE service redelivers until it gets a 2xx (and an operator may redeliver by hand): a delivery id
seen before is answered ``200 {"status": "duplicate"}`` without applying it twice.
"""
import psycopg2

from odoo import api, fields, models


class DteWebhookDelivery(models.Model):
    _name = 'dte.webhook.delivery'
    _description = 'Entrega de webhook DTE recibida'
    _order = 'received_at desc, id desc'
    _rec_name = 'delivery_id'

    _delivery_uniq = models.Constraint('UNIQUE(delivery_id)', 'Esta entrega de webhook ya fue procesada.')

    delivery_id = fields.Char(string='ID de entrega', required=True, readonly=True)
    event = fields.Char(string='Evento', readonly=True)
    received_at = fields.Datetime(string='Recibido', default=fields.Datetime.now, readonly=True)
    result = fields.Char(string='Resultado', readonly=True)

    @api.model
    def _is_duplicate(self, delivery_id):
        return bool(delivery_id) and bool(self.sudo().search_count([('delivery_id', '=', delivery_id)], limit=1))

    @api.model
    def _register_delivery(self, delivery_id, event, result=False):
        """Record ``delivery_id``; False when it was already recorded (also by a concurrent request)."""
        if not delivery_id:
            return True
        if self._is_duplicate(delivery_id):
            return False
        try:
            with self.env.cr.savepoint():
                self.sudo().create({'delivery_id': delivery_id, 'event': event, 'result': result})
        except psycopg2.IntegrityError:
            return False
        return True

    @api.autovacuum
    def _gc_old_deliveries(self):
        """Keep 90 days: far longer than the service's redelivery window."""
        limit = fields.Datetime.subtract(fields.Datetime.now(), days=90)
        self.sudo().search([('received_at', '<', limit)]).unlink()
