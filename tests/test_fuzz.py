"""Random and mutated documents only ever produce located diagnostics, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
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


HOSTILE_VALUES = {
    "deep list": lambda n: "[" * n + "]" * n,
    "deep mapping": lambda n: "{a: " * n + "1" + "}" * n,
    "long integer": lambda n: "9" * (n * 5),
    "long hex": lambda n: "0x" + "f" * (n * 4),
    "long text": lambda n: "a" * (n * 70),
    "long file name": lambda n: "a" * (n // 3 + 256) + ".yaml",
    "long path": lambda n: "a/" * (n + 2100) + "x.yaml",
    "tag the value does not fit": lambda n: ("!!float x", "!!int abc", "!!bool maybe", "!!float 1e999")[
        n % 4
    ],
}


@st.composite
def hostile_documents(draw) -> str:
    """A shipped document with a value replaced by one built to break a parser: nesting a
    thousand deep, integers of thousands of digits, file names no file system takes."""
    lines = draw(st.sampled_from(SEEDS)).splitlines()
    kind = draw(st.sampled_from(sorted(HOSTILE_VALUES)))
    value = HOSTILE_VALUES[kind](draw(st.integers(1, 1200)))
    candidates = [i for i, line in enumerate(lines) if ": " in line and not line.lstrip().startswith("#")]
    index = draw(st.sampled_from(candidates))
    key = lines[index].split(": ", 1)[0]
    lines[index] = f"{key}: {value}"
    return "\n".join(lines) + "\n"


def assert_only_located_diagnostics(root: Path, content: str | bytes) -> None:
    write_project(root, {"job.yaml": content})
    report = validate([root / "job.yaml"])  # any exception other than located errors fails here
    for diagnostic in report.diagnostics:
        assert diagnostic.location is not None, diagnostic
        assert diagnostic.location.line >= 1 and diagnostic.location.column >= 1
        assert diagnostic.message


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
HOSTILE = settings(FUZZ, max_examples=700)  # with the three above: over 1,000 documents per run


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


@HOSTILE
@given(text=hostile_documents())
def test_hostile_documents(tmp_path, text):
    assert_only_located_diagnostics(tmp_path / "p", text)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("objects: " + "[" * 1000 + "]" * 1000, "error: values nest more than 64 levels deep"),
        ("objects: " + "9" * 5000, "error: the number 99999999999999999999… is too large at objects"),
        ("objects: 0x" + "f" * 4000, "error: the number 0xffffffffffffffffff… is too large at objects"),
        ("extends: " + "a" * 300 + ".yaml", "cannot be read: File name too long at extends"),
        ("description: " + "a" * 70_000, "error: a value of 70,000 characters is over the limit of 65,536"),
        ("description: !!float x", "error: `x` is not a valid float at description"),
        ("description: !!int abc", "error: `abc` is not a valid int at description"),
        ("extends: " + "a/" * 3000 + "x.yaml", "cannot be read: File name too long at extends"),
    ],
    ids=["nesting", "integer", "hex", "file name", "text", "float tag", "int tag", "path"],
)
def test_each_hostile_value_is_a_located_error_from_the_command(tmp_path, line, message):
    root = write_project(tmp_path, {"job.yaml": f"syncmap: 2\nname: x\n{line}\n"})
    result = run_syncmap("validate", "job.yaml", cwd=root)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("job.yaml:3:"), result.stderr[:300]
    assert message in result.stderr and "Traceback" not in result.stderr


def test_the_command_never_prints_a_traceback(tmp_path):
    broken = SEEDS[0].replace("objects:", "objects:\n\t- [", 1)
    root = write_project(tmp_path, {"job.yaml": broken})
    result = run_syncmap("validate", "job.yaml", cwd=root)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("job.yaml:")
