"""CSV files as the csv connector keeps them: parsed to text cells with what writing them back
must keep (byte order mark, line ends), encoded in the connection's format, replaced atomically,
and rewritten by one writer at a time."""

from __future__ import annotations

import codecs
import csv
import glob
import hashlib
import io
import json
import math
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from engine.connectors.settings import CsvSettings
from engine.diagnostics import did_you_mean
from engine.errors import ConnectorError, SettingError


@dataclass
class CsvFile:
    """One file as parsed: its columns in order, its rows as text cells, and what to keep when it
    is written back (its byte order mark, its line ends, and the stamp that tells whether it changed since)."""

    path: Path
    columns: list[str] = field(default_factory=list)
    rows: list[dict[str, str]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # the line each row ends on, for messages
    bom: bool = False
    newline: str = "\n"
    stamp: tuple[int, int, int] | None = None


@dataclass(frozen=True)
class CsvFormat:
    """How a connection's files are written: delimiter, quote, encoding and the text of no value."""

    delimiter: str
    quote: str
    encoding: str  # a Python codec name, utf-8 spelled one way
    encoding_name: str  # as the settings spell it, for messages
    null: str

    @classmethod
    def of(cls, settings: CsvSettings) -> CsvFormat:
        return cls(
            _one_character("delimiter", settings.delimiter), _one_character("quote", settings.quote),
            _codec(settings.encoding), settings.encoding, settings.null,
        )  # fmt: skip

    def parse(self, path: Path, id_field: str) -> CsvFile:
        data = path.read_bytes()
        csv_file = CsvFile(path, stamp=stamp(path), bom=data.startswith(b"\xef\xbb\xbf"))
        csv_file.newline = "\r\n" if b"\r\n" in data[:65536] else "\n"
        try:
            text = data.decode("utf-8-sig" if self.encoding == "utf-8" else self.encoding)
        except UnicodeDecodeError as e:
            line = data[: e.start].count(b"\n") + 1
            raise ConnectorError(
                f"{path}:{line}: byte 0x{data[e.start]:02x} is not {self.encoding} text",
                hint="set the connection's `encoding` (e.g. `latin-1`, or `cp1252` for Excel exports)",
            ) from None
        reader = csv.reader(
            io.StringIO(text, newline=""), delimiter=self.delimiter, quotechar=self.quote, strict=True
        )
        try:
            for cells in reader:
                if not cells:
                    continue  # a blank line
                if not csv_file.columns:
                    csv_file.columns = _header(path, cells, id_field)
                    continue
                csv_file.rows.append(self._row(path, reader.line_num, csv_file.columns, cells, id_field))
                csv_file.lines.append(reader.line_num)
        except csv.Error as e:
            raise ConnectorError(
                f"{path}:{reader.line_num}: {e}", hint="a quoted value must end with its closing quote"
            ) from None
        if not csv_file.columns:
            raise ConnectorError(
                f"{path}: the file has no header row",
                hint=f"the first line names the columns, e.g. `{id_field},name`",
            )
        return csv_file

    def _row(self, path: Path, line: int, columns: list[str], cells: list[str], id_field: str) -> dict[str, str]:
        if len(cells) != len(columns):
            raise ConnectorError(
                f"{path}:{line}: the row has {len(cells)} values and the header {len(columns)} columns",
                hint=f"quote a value that holds `{self.delimiter}` or a line break, "
                "or set the connection's `delimiter`",
            )
        row = dict(zip(columns, cells, strict=True))
        if row[id_field] in ("", self.null):
            raise ConnectorError(
                f"{path}:{line}: the row has no `{id_field}`",
                hint="give every row an id, or name the column holding it with the side's `id:`",
            )
        return row

    def encode(self, csv_file: CsvFile) -> bytes:
        out = io.StringIO(newline="")
        writer = csv.writer(
            out, delimiter=self.delimiter, quotechar=self.quote, lineterminator=csv_file.newline
        )
        writer.writerow(csv_file.columns)
        writer.writerows([row.get(c, self.null) for c in csv_file.columns] for row in csv_file.rows if row)
        text = out.getvalue()
        if csv_file.bom:
            text = "\ufeff" + text
        return text.encode(self.encoding)

    def cell(self, value: Any) -> str:
        """A value as CSV text: None as the null text, booleans as true/false, structures as JSON."""
        if value is None:
            return self.null
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{value} is not a number a CSV cell can hold")
        if isinstance(value, datetime | date | time):
            return value.isoformat()
        if isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False, allow_nan=False)
        return str(value)


def _header(path: Path, cells: list[str], id_field: str) -> list[str]:
    repeated = [name for name, count in Counter(cells).items() if count > 1]
    if repeated:
        raise ConnectorError(
            f"{path}:1: the header names `{repeated[0]}` twice", hint="give every column its own name"
        )
    if id_field not in cells:
        raise ConnectorError(
            f"{path}:1: the header has no `{id_field}` column",
            hint=did_you_mean(id_field, cells) or "name the id column with the side's `id:`",
        )
    return cells


def stamp(path: Path) -> tuple[int, int, int] | None:
    """What tells whether a file changed since it was parsed."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    return (status.st_ino, status.st_mtime_ns, status.st_size)


def replace_file(csv_file: CsvFile, data: bytes) -> None:
    """Atomically: readers see the old file or the new one, never half of one."""
    handle, temporary = tempfile.mkstemp(dir=csv_file.path.parent, prefix=f".{csv_file.path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, csv_file.path.stat().st_mode & 0o7777)
        os.replace(temporary, csv_file.path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def remove_leftovers(paths: Iterable[Path]) -> None:
    """Temporary files a writer killed mid-rewrite left beside a file (``.<name>.<random>``), and
    the lock files of earlier versions: only a writer holding the lock makes them."""
    for path in paths:
        for leftover in path.parent.glob(f".{glob.escape(path.name)}.*"):
            leftover.unlink(missing_ok=True)


@contextmanager
def locked(folder: Path, object_type: str, timeout: float) -> Iterator[None]:
    """Only one writer at a time rewrites a record type's files (another run, another job)."""
    try:
        with FileLock(lock_path(folder, object_type), timeout=timeout, mode=0o666):
            yield
    except Timeout:
        raise ConnectorError(
            f"`{object_type}` in {folder} stayed locked by another writer for {timeout:g} s; nothing was written",
            hint="another syncmap run is writing these files; run again when it ends, "
            "or raise `lock_timeout_seconds`",
        ) from None


def lock_path(folder: Path, object_type: str) -> Path:
    """Where writers of a record type's files take turns: one path per folder and type, in the
    system's temporary folder, so that nothing is left beside the customer's files."""
    locks = Path(tempfile.gettempdir()) / "syncmap-locks"
    if not locks.is_dir():
        locks.mkdir(exist_ok=True)
        locks.chmod(0o1777)  # shared by every user, as the temporary folder is
    key = hashlib.sha256(f"{folder.resolve()}\0{object_type}".encode()).hexdigest()[:32]
    return locks / f"csv-{key}.lock"


def _one_character(name: str, value: str) -> str:
    value = value.replace("\\t", "\t")
    if len(value) != 1:
        raise SettingError(
            name, f"the csv `{name}` must be one character, not `{value}`", hint='e.g. `";"` or `"\\t"`'
        )
    return value


def _codec(name: str) -> str:
    """A Python codec name, ``utf-8`` spelled one way so a byte order mark is handled."""
    try:
        found = codecs.lookup(str(name)).name
    except LookupError:
        raise SettingError(
            "encoding", f"unknown encoding `{name}`", hint="e.g. `utf-8`, `latin-1`, `cp1252`"
        ) from None
    return "utf-8" if found in ("utf-8", "utf-8-sig") else found
