"""The sandbox's own certificate authority, so clients speak real HTTPS to loopback.

simple-salesforce only builds ``https://`` URLs. A throwaway CA (trustme) signs a certificate for
127.0.0.1 and localhost; its PEM is written to a file that clients pass as ``verify=``.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme


def server_context(ca_file: Path) -> ssl.SSLContext:
    """A TLS server context with a fresh certificate, its CA written to ca_file."""
    authority = trustme.CA(organization_name="syncmap sandbox")
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certificate.configure_cert(context)
    ca_file.parent.mkdir(parents=True, exist_ok=True)
    authority.cert_pem.write_to_path(str(ca_file))
    return context
