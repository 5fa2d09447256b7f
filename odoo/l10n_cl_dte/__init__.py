"""Chile - Facturación electrónica Timbre (DTE): Odoo 19 client of the Timbre DTE and AI services."""
from . import controllers, models, wizard
