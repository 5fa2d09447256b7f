"""HTTP controllers (webhooks) of the Timbre DTE addon."""
from . import webhook
