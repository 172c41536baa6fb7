"""Compile time: 100 customer documents, each extending a regional template that extends the
shipped Avochato template (a three-level `extends` chain) and using a rule set."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from bench.results import Result
from engine.compile import compile_plan

REPO = Path(__file__).resolve().parent.parent
DOCUMENTS = 100
REGIONAL = """\
syncmap: 1
extends: ../mappings/avochato.yaml
defaults: {phone_region: GB}
rule_sets: [../rules/contact-quality.yaml]
objects:
  contacts:
    filters:
      - {side: target, rule: has_valid_phone}
"""
CUSTOMER = """\
syncmap: 1
extends: ../regions/uk.yaml
name: customer-{n}
connections:
  avochato: {{settings: {{path: customer-{n}.db}}}}
objects:
  contacts:
    target: {{create_as: Contact}}
    fields:
      Title: {{source: title{n}, direction: to_source}}
"""


def main() -> list[Result]:
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        (project / "syncmap.toml").write_text("")
        for name in ("mappings", "rules"):
            shutil.copytree(REPO / name, project / name)
        (project / "regions").mkdir()
        (project / "regions" / "uk.yaml").write_text(REGIONAL)
        (project / "customers").mkdir()
        documents = []
        for n in range(DOCUMENTS):
            documents.append(project / "customers" / f"customer-{n}.yaml")
            documents[-1].write_text(CUSTOMER.format(n=n))
        started = time.perf_counter()
        hashes = {compile_plan(document).hash for document in documents}
        seconds = time.perf_counter() - started
    assert len(hashes) == DOCUMENTS
    print(f"compile, {DOCUMENTS} documents with 3-level extends chains: {seconds * 1000:.0f} ms "
          f"({seconds * 1000 / DOCUMENTS:.1f} ms per document)")  # fmt: skip
    name = f"compile {DOCUMENTS} documents, 3-level extends"
    return [
        Result(name, "total", seconds * 1000, "ms"),
        Result(name, "per document", seconds * 1000 / DOCUMENTS, "ms"),
    ]


if __name__ == "__main__":
    main()
