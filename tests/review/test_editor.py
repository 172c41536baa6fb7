"""The editor sees what syncmap sees: the real yaml-language-server, with the schemas associated as
the README says, reports nothing on any shipped document and reports the mistakes of broken
copies, in whole documents, documents extending a template, mapping tests and rule sets."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import REPO
from tests.review.lsp import SERVER, YamlLanguageServer

README = (REPO / "README.md").read_text()
ASSOCIATIONS = json.loads(README.split("## Editor completion")[1].split("```json\n")[1].split("```")[0])[
    "yaml.schemas"
]
SHIPPED = sorted(
    path for folder in ("mappings", "examples", "rules") for path in (REPO / folder).rglob("*.yaml")
)

pytestmark = pytest.mark.skipif(not SERVER.exists(), reason="yaml-language-server is installed by `npm ci`")


@pytest.fixture(scope="module")
def server():
    with YamlLanguageServer(
        REPO, {schema.removeprefix("./"): globs for schema, globs in ASSOCIATIONS.items()}
    ) as running:
        yield running


def test_no_shipped_document_shows_a_problem(server):
    problems = {
        str(path.relative_to(REPO)): [(d["range"]["start"]["line"] + 1, d["message"]) for d in found]
        for path in SHIPPED
        if (found := server.check(path))
    }
    assert len(SHIPPED) > 30 and problems == {}


@pytest.mark.parametrize(
    ("shipped", "mistake", "shown"),
    [
        ("mappings/avochato.yaml", ("direction: both", "direction: bothways"), "Value is not accepted"),
        ("examples/avochato/acme.yaml", ("create_as: Contact", "create_az: Contact"), "Property create_az is not allowed"),
        ("mappings/avochato.test.yaml", ("tests:", "testz:"), "Property testz is not allowed"),
        ("rules/contact-quality.yaml", ("rules:", "rulez:"), "Property rulez is not allowed"),
    ],
)  # fmt: skip
def test_a_broken_copy_shows_its_mistake(server, shipped, mistake, shown, tmp_path):
    """The copy sits where the original does, so the same association applies to it."""
    original = REPO / shipped
    copy = original.with_name(f"broken-{tmp_path.name}-{original.name}")
    text = original.read_text()
    assert mistake[0] in text
    try:
        shutil.copy(original, copy)
        copy.write_text(text.replace(mistake[0], mistake[1], 1))
        messages = [d["message"] for d in server.check(copy)]
    finally:
        copy.unlink(missing_ok=True)
    assert any(shown in message for message in messages), messages
