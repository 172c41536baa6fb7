"""Random and mutated documents only ever produce located diagnostics, never a traceback."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.validate import validate
from tests.conftest import REPO, run_syncmap, write_project

SEEDS = [path.read_text() for path in sorted((REPO / "mappings").glob("*.yaml"))] + [
    (REPO / "examples" / "avochato" / "acme.yaml").read_text()
]
YAML_NOISE = [*":-\t{}[]\"'&*!|>#%@`,?\n ", "\n  ", ": ", "- ", "{{", "}}", "~", "null", "yes", "1e3"]


@st.composite
def mutated_documents(draw) -> str:
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "duplicate-line", "truncate"]))
        if action == "insert":
            text = text[:position] + draw(st.sampled_from(YAML_NOISE)) + text[position:]
        elif action == "delete":
            text = text[:position] + text[position + draw(st.integers(1, 20)) :]
        elif action == "duplicate-line":
            lines = text.splitlines(keepends=True)
            index = draw(st.integers(0, max(len(lines) - 1, 0)))
            text = "".join(lines[: index + 1] + lines[index:])
        else:
            text = text[:position]
    return text


def assert_only_located_diagnostics(root: Path, content: str | bytes) -> None:
    write_project(root, {"job.yaml": content})
    report = validate([root / "job.yaml"])  # any exception other than located errors fails here
    for diagnostic in report.diagnostics:
        assert diagnostic.location is not None, diagnostic
        assert diagnostic.location.line >= 1 and diagnostic.location.column >= 1
        assert diagnostic.message


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(text=mutated_documents())
def test_mutated_documents(tmp_path, text):
    assert_only_located_diagnostics(tmp_path / "p", text)


@FUZZ
@given(raw=st.binary(max_size=300))
def test_random_bytes(tmp_path, raw):
    assert_only_located_diagnostics(tmp_path / "p", raw)


@FUZZ
@given(text=st.lists(st.sampled_from([*YAML_NOISE, *"syncmapobjectsfield01"]), max_size=80).map("".join))
def test_random_yaml_like_text(tmp_path, text):
    assert_only_located_diagnostics(tmp_path / "p", text)


def test_the_command_never_prints_a_traceback(tmp_path):
    broken = SEEDS[0].replace("objects:", "objects:\n\t- [", 1)
    root = write_project(tmp_path, {"job.yaml": broken})
    result = run_syncmap("validate", "job.yaml", cwd=root)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("job.yaml:")
