"""``syncmap sandbox``: a local Salesforce-compatible REST API, so nothing needs a real org.

Serves the REST API (describe, records, SOQL with queryMore, sObject Collections, Bulk API 2.0)
and the OAuth 2.0 token endpoint over HTTPS on loopback, for the real simple-salesforce client
and any other. ``Sandbox`` runs it in-process.
"""

from engine.sandbox.faults import FaultSettings
from engine.sandbox.instance import Sandbox
from engine.sandbox.oauth import ConnectedApp

__all__ = ["ConnectedApp", "FaultSettings", "Sandbox"]
