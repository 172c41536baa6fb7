"""The connector protocol: the only way syncmap reads from or writes to a system.

A connector is a small object that knows one system (a SQLite file, a Salesforce org, fixture
files). The runner asks it to describe record types, read records changed since a watermark,
fetch or find records in batches, and write batches, getting one result per record back. A
connector never decides anything about syncing; it has no notion of links, conflicts or plans.

Connectors are plugins found through the `syncmap.connectors` entry-point group: a third-party
package declares, in its pyproject.toml,

    [project.entry-points."syncmap.connectors"]
    hubspot = "syncmap_hubspot:HubSpotConnector"

where the object is a callable `(settings: dict, base_dir: Path) -> Connector`. Settings arrive
with `${ENV}` references already replaced; `base_dir` is the folder of the mapping document, for
relative paths. Tests can bypass discovery by passing a ``Registry`` with instances in it.

What a connector can do beyond the protocol (open read-only, its id and modified fields, take
declarations, re-read an overlap, batch writes, count API calls) it declares on ``BaseConnector``,
which the built-in connectors subclass; ``capabilities()`` gives a plugin that only follows the
protocol the defaults, so the engine never probes a connector for what it has.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Literal, NamedTuple, Protocol, Self, TypeVar

import msgspec
from pydantic import BaseModel, ValidationError

from engine.diagnostics import did_you_mean
from engine.errors import ConnectorError, SettingError
from engine.records import PLAIN_TYPES

ENTRY_POINT_GROUP = "syncmap.connectors"


@dataclass(frozen=True)
class FieldInfo:
    """What a connector knows about one field of a record type."""

    name: str
    type: str = "string"  # string, number, boolean, date, datetime, id, reference, picklist, phone
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    reference_to: tuple[str, ...] = ()
    defaulted: bool = False  # the system gives it a value on create when none is sent

    @property
    def required(self) -> bool:
        """Whether a new record must be sent a value for it."""
        return self.createable and not self.nillable and not self.defaulted


@dataclass(frozen=True)
class ObjectInfo:
    """A record type: its fields and what may be done with it."""

    name: str
    fields: Mapping[str, FieldInfo]
    id_field: str = "id"
    modified_field: str | None = "updated_at"
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    flags: Mapping[str, Any] = field(default_factory=dict)  # system-specific, e.g. Salesforce's searchable
    # the fields are all the type has (a catalogue), not guessed from records: an unknown field
    # or a required one left without a value is an error before anything is written
    authoritative: bool = False


@dataclass(frozen=True)
class Declared:
    """What a mapping's side says of one record type: the fields holding its id, its modification
    time and its soft-delete mark, and the read-only query that defines it (instead of a table)."""

    id_field: str | None = None
    modified_field: str | None = None
    deleted_field: str | None = None
    query: str | None = None


def keep_declaration(
    declared: dict[str, Declared], connector: str, object_type: str, declaration: Declared, query_hint: str
) -> None:
    """Note what a side says of a record type, for a connector that cannot run a `query:`: two
    sides on one record type must agree on its id, modified and soft-delete fields."""
    if declaration.query is not None:
        raise ConnectorError(
            f"the {connector} connector cannot run a `query:` (for `{object_type}`)", hint=query_hint
        )
    known = declared.get(object_type)
    if known is not None and known != declaration:
        raise ConnectorError(
            f"two sides describe `{object_type}` differently (id, modified or deleted)",
            hint="give every side on it the same `id:`, `modified:` and `deleted:`",
        )
    declared[object_type] = declaration


class Record(msgspec.Struct, frozen=True):
    """One record as read from a system; ``values`` holds every field, the id included. (A
    msgspec Struct: a run makes one per record read, six times as fast as a dataclass.)

    ``unreadable`` says why some of its values could not be read (a time past year 9999, a
    number no other system can hold): ``values`` then holds only the others, and the runner
    skips the record with that reason instead of stopping the read or deciding on a part."""

    type: str
    id: str
    values: Mapping[str, Any]
    modified: str | None = None
    deleted: bool = False
    unreadable: str | None = None


class Write(NamedTuple):
    """One change to make; ``ref`` is the caller's key to find the matching result. (A named
    tuple, as its result is: a Bulk job makes 100,000 of each.)"""

    ref: str
    op: Literal["create", "update", "delete"]
    type: str
    id: str | None = None
    values: Mapping[str, Any] = MappingProxyType({})


class WriteResult(NamedTuple):
    """The outcome of one write. ``unknown``: it may have happened (a create whose answer was
    lost, or came without the new id); the journal keeps it open, and the next run looks for the
    record before creating it again."""

    ref: str
    ok: bool
    id: str | None = None
    error: str | None = None
    unknown: bool = False


def not_json(values: Mapping[str, Any]) -> str | None:
    """Why a record's values cannot be sent as JSON (a NaN, a lone surrogate), or None: a
    connector speaking JSON fails that record alone, before any request. Most records hold only
    text, whole numbers and flags under text keys: their text alone is checked, without writing
    the JSON out."""
    try:
        if all(type(key) is str and type(value) in PLAIN_TYPES for key, value in values.items()):
            for key, value in values.items():
                key.encode("utf-8")
                if type(value) is str:
                    value.encode("utf-8")
        else:
            json.dumps(values, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except (ValueError, TypeError) as e:
        return f"its values cannot be sent as JSON: {e}"
    return None


class Connector(Protocol):
    calls: Counter[str]  # calls made per method (read, get, find, write), for the run report

    def describe(self, object_type: str) -> ObjectInfo:
        """Fields and capabilities of a record type; ConnectorError when it does not exist."""
        ...

    def read(
        self,
        object_type: str,
        since: str | None = None,
        where: str | None = None,
        own_writes: Sequence[tuple[str, ...]] = (),
    ) -> Iterator[Record]:
        """Records modified at or after ``since`` (all when None), deletions included, oldest first.

        ``own_writes`` are the (started, ended) times of this step's latest writes here, as
        (started, ended, "create") for those that only created records: a connector that can
        tell its own changes from others' may leave out the records whose last change was one
        of those writes (Salesforce, by its last modifier); others ignore it."""
        ...

    def get(self, object_type: str, ids: Sequence[str]) -> dict[str, Record]:
        """The records with these ids that exist (deleted ones are left out)."""
        ...

    def find(self, object_type: str, field_name: str, values: Sequence[Any]) -> list[Record]:
        """Records whose field equals one of the values exactly (batched by the connector)."""
        ...

    def write(self, object_type: str, writes: Sequence[Write]) -> list[WriteResult]:
        """Apply a batch; one result per write, in order. A failing record never fails the batch."""
        ...

    def close(self) -> None: ...


class BaseConnector:
    """The capabilities a connector declares, with the defaults of one that declares none.

    - ``opens_read_only``: the factory takes ``read_only=True`` (a dry run's connector then
      creates no file, table or record).
    - ``default_id_field``, ``default_modified_field``: the system's id and modification-time
      fields (Salesforce's ``Id`` and ``SystemModstamp``); `syncmap test` gives its in-memory
      stand-ins the same.
    - ``takes_declarations``: its record types have their own id, modified and soft-delete fields
      (a customer's database tables), and ``declare`` hears what each side of the mapping says
      of its record type before anything is described or read.
    - ``reread_seconds``: a read starts this long before ``since`` (Salesforce's overlap); the
      runner remembers what it read in that span, so a record delivered again unchanged is not
      decided again.
    - ``write_batch_size``: how many writes one ``write`` call takes at most; apply hands over
      that many (a Salesforce connector takes a Bulk job's worth).
    - ``writes_in_a_thread``: ``write`` may run in a thread of its own while apply does work
      that waits on no answer (a Bulk job's minutes of waiting are not spent idle).
    """

    opens_read_only: ClassVar[bool] = False
    default_id_field: ClassVar[str] = "id"
    default_modified_field: ClassVar[str | None] = "updated_at"
    takes_declarations: ClassVar[bool] = False
    reread_seconds: float = 0.0
    write_batch_size: int = 200
    writes_in_a_thread: ClassVar[bool] = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Let go of what the connector holds open (files, connections, sessions)."""

    def declare(self, object_type: str, declared: Declared) -> None:
        """What a side says of ``object_type`` (only called when ``takes_declarations``)."""

    def expect_fields(self, paths_by_type: Mapping[str, Sequence[str]]) -> None:
        """Hears, once opened, the parent-record paths the plan maps (``Account.Name``), for a
        system whose reads must name them."""

    def check_where(self, object_type: str, where: str) -> None:
        """Tries a side's ``where:`` condition once, so a mistake in it is a compile error."""

    def write_calls(self, counts: Mapping[tuple[str, str], int]) -> int | None:
        """The API calls writes of these counts, ``{(type, op): count}``, would make, for a system
        that limits its calls (the plan's estimate); None when it does not count them."""
        return None

    def count(self, object_type: str, since: str | None = None, where: str | None = None) -> int | None:
        """How many records a read from ``since`` would deliver, where the system can tell without
        spending anything on it (a local table): progress shows it as the read's total."""
        return None

    def calls_left(self) -> tuple[int, int, int, int] | None:
        """For a system that limits its calls: (left for this run, used today, the daily limit,
        kept for others); apply stops before writing what would cross it."""
        return None

    def budget_name(self) -> str | None:
        """What the calls of ``calls_left`` are counted by (an org's address): the runs of every
        job writing to it, in every process, share them."""
        return None


_PROTOCOL_ONLY = BaseConnector()


def capabilities(connector: Connector) -> BaseConnector:
    """What a connector declares; a plugin that only follows the protocol gets the defaults."""
    return connector if isinstance(connector, BaseConnector) else _PROTOCOL_ONLY


def factory_capabilities(factory: Callable[..., Any]) -> type[BaseConnector]:
    """What a connector's factory declares before anything is opened (its class's declarations)."""
    return factory if isinstance(factory, type) and issubclass(factory, BaseConnector) else BaseConnector


ConnectorFactory = Callable[[dict[str, Any], Path], Connector]
SettingsModel = TypeVar("SettingsModel", bound=BaseModel)


def typed_settings(connector: str, model: type[SettingsModel], settings: Mapping[str, Any]) -> SettingsModel:
    """A connector's settings checked by its pydantic model (the built-in connectors' models are
    also published in the mapping schema); the first mistake is a SettingError naming the
    setting by its dotted path, which the document locates."""
    try:
        return model.model_validate(dict(settings))
    except ValidationError as e:
        error = e.errors()[0]
        loc = _as_written(settings, error["loc"])
        where = ".".join(str(part) for part in loc) or "settings"
        if error["type"] == "extra_forbidden":
            known = _known_keys(model, loc[:-1])
            hint = did_you_mean(str(loc[-1]), known) or f"{connector} settings: {', '.join(known)}"
            raise SettingError(where, f"unknown {connector} setting `{where}`", hint=hint) from None
        if error["type"] == "missing":
            raise SettingError(
                where,
                f"the {connector} connector needs a `{where}` setting",
                hint=f"add `settings: {{{where}: ...}}` to the connection",
            ) from None
        message = f"{connector} setting `{where}`: {error['msg'][:1].lower()}{error['msg'][1:]}, not `{error['input']}`"
        raise SettingError(where, message, hint="see the connector's settings in the README") from None


def _as_written(settings: Any, loc: Sequence[Any]) -> list[Any]:
    """An error's place as the document writes it: pydantic adds the tag of a choice of models
    (`auth.bearer.token` for `auth: {type: bearer, token: ...}`), which no document has."""
    written, node = [], settings
    for position, part in enumerate(loc):
        in_node = part in node if isinstance(node, Mapping) else isinstance(part, int) and part < len(node)
        if isinstance(node, Mapping | list) and in_node:
            node = node[part]
        elif position < len(loc) - 1:
            continue  # a tag
        written.append(part)
    return written


def _known_keys(model: type[BaseModel], parents: Sequence[Any]) -> list[str]:
    """The setting names allowed next to a misspelled one (for its did-you-mean)."""
    schema = model.model_json_schema()
    node: dict[str, Any] = schema
    for part in parents:
        node = _resolve_ref(node, schema)
        properties = node.get("properties", {})
        node = properties.get(part) or node.get("additionalProperties") or {}
    node = _resolve_ref(node, schema)
    return list(node.get("properties", {}))


def _resolve_ref(node: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    for choice in node.get("anyOf", []):  # an optional model: `X | None`
        if "$ref" in choice:
            node = choice
    ref = node.get("$ref")
    return schema["$defs"][ref.rsplit("/", 1)[-1]] if ref else node


class Registry:
    """Connector factories by name: entry points, loaded lazily, or given directly by tests."""

    def __init__(self, factories: Mapping[str, ConnectorFactory] | None = None, discover: bool = True):
        self.factories = dict(factories or {})
        self.discover = discover

    def names(self) -> list[str]:
        found = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)} if self.discover else set()
        return sorted(found | set(self.factories))

    def factory(self, name: str) -> ConnectorFactory:
        if name in self.factories:
            return self.factories[name]
        if self.discover:
            for point in entry_points(group=ENTRY_POINT_GROUP, name=name):
                try:
                    return point.load()
                except Exception as e:  # a broken plugin must not crash syncmap
                    raise ConnectorError(f"connector `{name}` could not be loaded: {e}") from e
        hint = did_you_mean(name, self.names()) or f"installed connectors: {', '.join(self.names())}"
        raise ConnectorError(f"unknown connector `{name}`", hint=hint)

    def open(self, name: str, settings: dict[str, Any], base_dir: Path, read_only: bool = False) -> Connector:
        """Open a connector; ``read_only`` (a dry run) where it declares it can open so
        (``opens_read_only``: it then creates no file, table or record)."""
        factory = self.factory(name)
        if read_only and factory_capabilities(factory).opens_read_only:
            return factory(settings, base_dir, read_only=True)
        return factory(settings, base_dir)
