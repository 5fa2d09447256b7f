"""Access rights: without the DTE groups a user can neither run the DTE actions nor read the SII news;
a DTE user can; the Timbre settings need the DTE administrator group."""
from unittest.mock import patch

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from ..lib.client import TimbreClient
from .common import DteTestCommon, generate_answer


@tagged('post_install_l10n', 'post_install', '-at_install')
class TestDteAccess(DteTestCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        invoicing = cls.env.ref('account.group_account_invoice')
        base = {'company_id': cls.company.id, 'company_ids': [(6, 0, cls.company.ids)]}
        cls.plain_user = cls.env['res.users'].create(dict(base, name='Contador sin DTE', login='nodte',
                                                          group_ids=[(6, 0, invoicing.ids)]))
        cls.dte_user = cls.env['res.users'].create(dict(base, name='Usuario DTE', login='dteuser', group_ids=[
            (6, 0, (invoicing + cls.env.ref('l10n_cl_dte.group_dte_user')).ids)]))
        cls.dte_admin = cls.env['res.users'].create(dict(base, name='Admin DTE', login='dteadmin', group_ids=[
            (6, 0, (invoicing + cls.env.ref('l10n_cl_dte.group_dte_admin') + cls.env.ref('base.group_system')).ids)]))
        cls.news = cls.env['dte.sii.news'].create({'tipo': 'circular', 'numero': '1', 'fecha': '2026-11-01',
                                                   'titulo': 'Circular 1', 'prioridad': 3})

    def test_admin_group_implies_user_and_admin_is_in_it(self):
        self.assertTrue(self.dte_admin.has_group('l10n_cl_dte.group_dte_user'))
        self.assertTrue(self.env.ref('base.user_admin').has_group('l10n_cl_dte.group_dte_admin'))

    def test_user_without_dte_group(self):
        move = self._dte_invoice('33').with_user(self.plain_user)
        with patch.object(TimbreClient, 'generate') as gen:
            with self.assertRaises(UserError):
                move.action_generate_and_send_dte()
            gen.assert_not_called()
        with self.assertRaises(UserError):
            move.action_check_dte_status()
        with self.assertRaises(UserError):
            move.action_ai_prevalidate()
        with self.assertRaises(AccessError):
            self.news.with_user(self.plain_user).read(['titulo'])
        with self.assertRaises(AccessError):
            self.env['dte.batch'].with_user(self.plain_user).search([])

    def test_dte_user_can_send_and_read_news(self):
        move = self._dte_invoice('33').with_user(self.dte_user)
        with patch.object(TimbreClient, 'generate', return_value=generate_answer(folio=7)), \
                patch.object(TimbreClient, 'pdf', return_value=b'%PDF'):
            move.action_generate_and_send_dte()
        self.assertEqual(move.dte_folio, 7)
        self.assertEqual(self.news.with_user(self.dte_user).read(['titulo'])[0]['titulo'], 'Circular 1')
        with self.assertRaises(AccessError):
            self.news.with_user(self.dte_user).write({'prioridad': 10})
        with self.assertRaises(AccessError):
            self.env['dte.webhook.delivery'].with_user(self.dte_user).search([])

    def test_settings_need_the_admin_group(self):
        with self.assertRaises(AccessError):
            self.env['res.config.settings'].with_user(self.dte_user).create({})
        settings = self.env['res.config.settings'].with_user(self.dte_admin).create(
            {'dte_service_url': 'https://dte.example.cl'})
        settings.execute()
        self.assertEqual(self.env['ir.config_parameter'].sudo().get_param('l10n_cl_dte.dte_service_url'),
                         'https://dte.example.cl')
        # a system administrator without the DTE admin group cannot change the Timbre connection
        sysadmin = self.env['res.users'].create({'name': 'Sys', 'login': 'sysnodte', 'company_id': self.company.id,
                                                 'company_ids': [(6, 0, self.company.ids)],
                                                 'group_ids': [(6, 0, self.env.ref('base.group_system').ids)]})
        with self.assertRaises(UserError):
            self.env['res.config.settings'].with_user(sysadmin).create({'dte_api_key': 'otra'}).execute()

    def test_batches_are_company_restricted(self):
        other = self.env['res.company'].create({'name': 'Otra Empresa', 'country_id': self.env.ref('base.cl').id})
        batch = self.env['dte.batch'].create({'batch_id': 'b-1', 'total': 0, 'company_id': self.company.id})
        outsider = self.env['res.users'].create({
            'name': 'DTE otra empresa', 'login': 'dteother', 'company_id': other.id, 'company_ids': [(6, 0, other.ids)],
            'group_ids': [(6, 0, self.env.ref('l10n_cl_dte.group_dte_user').ids)]})
        self.assertFalse(self.env['dte.batch'].with_user(outsider).search([('id', '=', batch.id)]))
        self.assertEqual(self.env['dte.batch'].with_user(self.dte_user).search([('id', '=', batch.id)]), batch)
