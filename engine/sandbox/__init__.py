"""``syncmap sandbox``: a local Salesforce-compatible REST API, so nothing needs a real org.

Serves the REST API (describe, records, SOQL with queryMore, sObject Collections, Bulk API 2.0)
over HTTPS on loopback, for the real simple-salesforce client. ``Sandbox`` runs it in-process.
"""

from engine.sandbox.faults import FaultSettings
from engine.sandbox.instance import Sandbox

__all__ = ["FaultSettings", "Sandbox"]
