{
    'name': 'Chile - Facturación electrónica Timbre (DTE)',
    'version': '19.0.1.0.0',
    'category': 'Accounting/Localizations/EDI',
    'summary': 'Emisión de DTE chilenos a través de los servicios Timbre (DTE + IA)',
    'description': """
Emite documentos tributarios electrónicos (33, 34, 39, 41, 56, 61, 110, 111, 112) desde las facturas de Odoo
a través del servicio DTE de Timbre, recibe los cambios de estado del SII por webhooks firmados (HMAC),
prevalida con el servicio de IA, pronostica el consumo de folios y muestra novedades normativas del SII.
Los nombres de campos y modelos no chocan con el módulo Enterprise ``l10n_cl_edi``.
""",
    'author': 'Timbre',
    'license': 'LGPL-3',
    'depends': ['account', 'l10n_cl', 'mail'],
    'data': [
        'security/l10n_cl_dte_security.xml',
        'security/ir.model.access.csv',
        'data/ir_config_parameter.xml',
        'data/ir_cron.xml',
        'views/account_move_views.xml',
        'views/dte_ai_validation_wizard_views.xml',
        'views/dte_batch_wizard_views.xml',
        'views/dte_batch_views.xml',
        'views/dte_folio_dashboard_views.xml',
        'views/dte_sii_news_views.xml',
        'views/res_config_settings_views.xml',
        'views/menus.xml',
    ],
    'installable': True,
    'application': False,
}
