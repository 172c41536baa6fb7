"""An org served from a local file for one run: a connection with `sandbox: crm.org.db` needs no
credentials and no server started by hand. syncmap serves the file over loopback HTTPS (the
`syncmap sandbox` server, in-process) while the connection is open, and the connector reaches it
as it reaches any org, through the real client."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.connectors.local import resolve_path
from engine.errors import SettingError

if TYPE_CHECKING:
    from engine.sandbox import Sandbox

SIGN_IN = ("instance_url", "session_id", "username", "password", "client_id", "private_key_file", "ca_file")


def serve(settings: Mapping[str, Any], base_dir: Path | None) -> tuple[Sandbox, dict[str, Any]]:
    """The started server, and the settings that reach it (the given ones, signed in to it)."""
    given = [name for name in SIGN_IN if settings.get(name)]
    if given:
        raise SettingError(
            given[0], f"salesforce setting `{given[0]}` signs in to an org, but `sandbox` serves a local one",
            hint="leave out `sandbox` to reach a real org, or the sign-in settings to use the local file",
        )  # fmt: skip
    path = resolve_path(base_dir, str(settings["sandbox"]))
    if not path.is_file():
        raise SettingError(
            "sandbox", f"the local org {path} does not exist",
            hint="`syncmap sandbox --db FILE --seed records.jsonl` makes one (stop it with Ctrl-C); "
            "the quickstart's `generate.py` writes its own",
        )  # fmt: skip
    from engine.sandbox import Sandbox  # a run reaching a real org never loads the server
    from engine.sandbox.org import SANDBOX_USERNAME

    org = Sandbox(db_path=path).start()
    reach = {"instance_url": org.instance_url, "session_id": org.session_id, "ca_file": str(org.ca_file)}
    return org, {**settings, **reach, "username": SANDBOX_USERNAME}
