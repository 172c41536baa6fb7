"""The loader refuses what PyYAML would accept silently or crash on, always with a location."""

from __future__ import annotations

import pytest

from engine.diagnostics import render_text
from engine.errors import DocumentError
from engine.load import MAX_FILE_BYTES, load_bytes


def diagnostics_of(raw: bytes) -> list:
    with pytest.raises(DocumentError) as caught:
        load_bytes(raw, "job.yaml")
    return caught.value.diagnostics


def test_file_over_the_size_cap_is_refused_before_parsing():
    (diag,) = diagnostics_of(b"syncmap: 1\n" + b"# padding\n" * (MAX_FILE_BYTES // 10 + 1))
    assert diag.code == "file-too-large"
    assert (diag.location.line, diag.location.column) == (1, 1)


def test_non_utf8_bytes_are_located():
    (diag,) = diagnostics_of(b"syncmap: 1\nname: caf\xe9\n")
    assert diag.code == "not-utf8"
    assert (diag.location.line, diag.location.column) == (2, 10)
    assert diag.message == "byte 0xe9 is not valid UTF-8"


def test_recursive_alias_is_an_error_not_a_hang():
    (diag,) = diagnostics_of(b"syncmap: 1\nobjects: &a [*a]\n")
    assert diag.code == "alias-cycle"
    assert (diag.location.line, diag.location.column) == (2, 10)  # the value that contains itself


def test_merge_keys_are_refused_with_a_pointer_to_extends():
    (diag,) = diagnostics_of(b"base: &b {x: 1}\nother:\n  <<: *b\n")
    assert diag.code == "yaml-merge-key"
    assert "extends" in diag.hint


def test_several_documents_in_one_file():
    (diag,) = diagnostics_of(b"syncmap: 1\n---\nsyncmap: 1\n")
    assert (diag.location.line, diag.message) == (
        2,
        "invalid YAML: the file holds more than one YAML document",
    )


def test_rendered_error_shows_the_line_and_a_caret():
    text = render_text(diagnostics_of(b"syncmap: 1\nname: x\nname: y\n"))
    assert text.splitlines() == [
        "job.yaml:3:1: error: duplicate key `name` (first defined at line 2) at name",
        "  3 | name: y",
        "      ^",
        "  hint: YAML keeps only the last one; remove or rename one of them",
    ]


def test_dates_stay_text_and_a_bom_is_accepted():
    document = load_bytes("\ufeffsyncmap: 1\nsince: 2026-01-31\n".encode(), "job.yaml")
    assert document.data == {"syncmap": 1, "since": "2026-01-31"}
    assert document.source.locate(("since",)).line == 2


def test_control_characters_are_located():
    (diag,) = diagnostics_of(b"syncmap: 1\nname: a\x07b\n")
    assert diag.message == "the control character U+0007 is not allowed in YAML"
    assert (diag.location.line, diag.location.column) == (2, 8)


def test_one_command_parses_each_document_once_and_a_nested_scope_reads_edits_anew(tmp_path, monkeypatch):
    """Validating the repository's documents parses each of its 25 files once, although
    templates and rule sets are used by many documents (47 loads without the scope)."""
    import engine.load
    from engine.validate import find_documents, validate
    from tests.conftest import REPO

    parsed: list[str] = []
    read = engine.load.load_bytes
    monkeypatch.setattr(engine.load, "load_bytes", lambda raw, name, path=None: parsed.append(name) or read(raw, name, path))
    monkeypatch.chdir(REPO)
    folders = [REPO / "mappings", REPO / "examples", REPO / "rules"]
    report = validate(folders)
    assert report.valid and len(report.documents) == len(find_documents(folders))
    assert sorted(parsed) == sorted(set(parsed)) and len(parsed) == len(report.documents)

    document = tmp_path / "rules.yaml"
    document.write_text("rules: {}\n")
    with engine.load.one_load_per_document():
        first = engine.load.load(document)
        first.data["rules"]["mine"] = {}  # a caller's changes stay its own
        assert engine.load.load(document).data == {"rules": {}}
        document.write_text("rules: {a: {require: x, reason: y}}\n")
        with engine.load.one_load_per_document():
            assert "a" in engine.load.load(document).data["rules"]
