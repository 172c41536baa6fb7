"""The typed model of a mapping document, version 1, and the single source of its JSON Schema.

``schemas/mapping.v1.json`` and ``schemas/rules.v1.json`` are generated from these classes (see
``engine.schema``), so the editor schema and the model cannot drift apart. The model only says
what a document may contain; cross-references (unknown objects, cycles, contradicting
directions) are checked by ``engine.compile``, which knows where each value came from.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine.errors import DocumentError
from engine.schedule import cron_problem
from engine.source_map import SourceMap

NAME_PATTERN = r"^[a-z][a-z0-9_-]*$"
DURATION_PATTERN = r"^[1-9][0-9]*[smhd]$"
ENV_REFERENCE_PATTERN = r"^\$\{[A-Z_][A-Z0-9_]*\}$"
SECRET_SETTING_PATTERN = r"(password|secret|token|session_id|api_key)"

Name = Annotated[str, Field(pattern=NAME_PATTERN)]
Expression = Annotated[str, Field(min_length=1)]
Scalar = str | int | float | bool | None
Direction = Literal["both", "to_target", "to_source", "none"]
DIRECTION_HELP = "`both`, `to_target` (source to target only), `to_source` (target to source only) or `none`"


def _names(description: str) -> Any:
    """A mapping keyed by lower-case names: objects, connections, value maps, rules."""
    return Field(
        default_factory=dict,
        description=description,
        json_schema_extra={"propertyNames": {"pattern": NAME_PATTERN}},
    )


class Strict(BaseModel):
    """Unknown keys are errors (they are usually typos), and the model is immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Defaults(Strict):
    """Settings that expressions and match keys use when a document does not say otherwise."""

    phone_region: str = Field(
        "US",
        pattern=r"^[A-Z]{2}$",
        description="Region (ISO 3166 code) assumed for phone numbers written without a country code.",
    )
    timezone: str = Field("UTC", description="Time zone used to read dates that carry none.")


class Connection(Strict):
    """One system the document reads or writes, through a connector plugin."""

    connector: str = Field(
        pattern=r"^[a-z][a-z0-9_]*$",
        description="Connector plugin name: `salesforce`, `sql`, `sqlite`, `jsonl`, `memory`, or a third-party one.",
    )
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Connector settings (the built-in connectors' are checked by their own schemas). Secrets "
            "(keys containing password, secret, token, session_id, api_key) must be environment "
            "references such as `${SF_SESSION_ID}`."
        ),
        json_schema_extra={
            "propertyNames": {"pattern": r"^[a-z][a-z0-9_]*$"},
            "patternProperties": {
                SECRET_SETTING_PATTERN: {"type": "string", "pattern": ENV_REFERENCE_PATTERN}
            },
        },
    )


class Side(Strict):
    """Where records of one synced object live on one side: a connection and its record type(s)."""

    connection: Name = Field(description="Name of a connection declared under `connections`.")
    object: str | list[str] = Field(
        description=(
            "Record type, e.g. `contacts` or `Contact`; a list for types sharing a match key "
            "(`[Lead, Contact]`)."
        ),
        json_schema_extra={"minItems": 1},
    )
    priority: str | None = Field(
        None,
        description="When a key matches records of several types, this type wins and the others are ignored.",
    )
    create_as: str | None = Field(
        None, description="Type to create when nothing matches and the record does not say which."
    )
    id: str | None = Field(None, description="Field holding the record id (connector default if omitted).")
    modified: str | None = Field(
        None,
        description="Field holding the last modification time, for incremental reads and last-write-wins.",
    )
    where: str | None = Field(
        None,
        description="Filter in the connector's own query language, e.g. a SOQL condition for Salesforce.",
    )
    deleted: str | None = Field(
        None,
        description=(
            "Soft-delete column of a database table (`sql` connector): true or a time marks a deleted "
            "row, and a delete sets it instead of removing the row."
        ),
    )
    query: str | None = Field(
        None,
        description=(
            "A read-only SELECT that gives this side's records (`sql` connector), e.g. one row per person "
            "from a table of attendances; `object` then names its result."
        ),
    )
    modified_within: str | None = Field(
        None,
        pattern=DURATION_PATTERN,
        description="Only read records modified within this window, e.g. `30d`.",
    )
    find_hard_deletes: bool = Field(
        False,
        description=(
            "Look up every linked record of this side on each run: one the system no longer has was "
            "deleted (a table or file whose rows are removed, not marked). Costs a lookup per link."
        ),
    )


class Directions(Strict):
    """Direction set separately for creating and for updating records."""

    create: Direction = Field("both", description=f"Which way new records are created: {DIRECTION_HELP}.")
    update: Direction = Field("both", description=f"Which way changes flow: {DIRECTION_HELP}.")


class MatchKey(Strict):
    """A key that identifies the same record on both sides once normalized."""

    source: Expression = Field(description="Source field (or expression) holding the key.")
    target: str | list[str] = Field(
        description="Target field(s) compared with the key, in order, e.g. `[MobilePhone, Phone]`.",
        json_schema_extra={"minItems": 1},
    )
    normalize: Literal["phone", "email", "lower", "trim", "none"] = Field(
        "none",
        description=(
            "Normalization applied to both sides before comparing: `phone` (E.164), `email` "
            "(trimmed, lower-cased), `lower`, `trim` or `none`."
        ),
    )


class Filter(Strict):
    """A condition a record must meet to be synced; records failing it are skipped with the reason."""

    side: Literal["source", "target"] = Field(
        "source", description="Which side's records the condition is evaluated on."
    )
    rule: str | None = Field(None, description="Name of a rule from a rule set listed in `rule_sets`.")
    require: Expression | None = Field(
        None, description="Expression that must be true (not null, false or empty) to keep the record."
    )
    reason: str | None = Field(
        None, min_length=1, description="Why a record is skipped, shown in the preview and the run report."
    )
    unlink: bool = Field(
        False,
        description=(
            "A linked record that starts failing this filter loses its link (both records are kept), "
            "e.g. a user mapping whose user was deactivated."
        ),
    )


class Parent(Strict):
    """The object a record belongs to (an activity's contact or account)."""

    object: Name = Field(description="Name of the synced object that holds the parent records.")
    when_missing: Literal["skip", "wait"] = Field(
        "skip",
        description=(
            "`skip`: a record whose parent is not linked is skipped and not counted; `wait`: it is "
            "retried on later runs until the parent is linked."
        ),
    )


class Lookup(Strict):
    """Resolve a value to a record id by looking it up in the target, e.g. an owner by email."""

    object: str = Field(description="Target record type to search, e.g. `User`.")
    by: str = Field(description="Field of that record type compared with the value, e.g. `Email`.")


ConflictWinner = Literal["last_write_wins", "source_wins", "target_wins"]


class FieldMapping(Strict):
    """How one target field relates to the source record."""

    source: str | None = Field(
        None, description="Source field path (`company.name`); read going to the target, written coming back."
    )
    value: Scalar = Field(None, description="Constant written to the target.")
    compute: Expression | None = Field(
        None, description="Expression over the source record giving the target value."
    )
    template: str | None = Field(
        None,
        description="Text with `{{ expression }}` holes over the source record, giving the target value.",
    )
    transform: Expression | None = Field(
        None,
        description="Expression applied to the value (`@`) in whichever direction it flows, e.g. `lower(@)`.",
    )
    value_map: str | dict[str, Scalar] | None = Field(
        None,
        description=(
            "Translate values, written as `source value: target value` (inverted when flowing to the "
            "source); or the name of a map under `value_maps`."
        ),
    )
    default: Scalar = Field(None, description="Value used when the mapped value is empty.")
    direction: Direction | None = Field(
        None, description=f"Direction of this field only, within the object's directions: {DIRECTION_HELP}."
    )
    create_only: bool = Field(
        False, description="Write this field when a record is created, never when it is updated."
    )
    optional: bool = Field(
        False, description="Skip this field where the target record type has no such field."
    )
    types: list[str] | None = Field(
        None, description="Only for these target record types, e.g. `[Lead]` for `Company`."
    )
    conflict: ConflictWinner | None = Field(
        None, description="Who wins when both sides changed this field since the last sync."
    )
    link: Name | None = Field(
        None,
        description="The value is the id of a record of this synced object; it is translated through its links.",
    )
    lookup: Lookup | None = Field(None, description="Resolve the value to a target record id.")


class Conflicts(Strict):
    """What to do when records disagree."""

    first_match: Literal["keep_target", "keep_source", "hold"] = Field(
        "hold",
        description=(
            "A first match finds both records holding different values: keep the target's, keep "
            "the source's, or `hold` the pair as a conflict for a person to decide "
            "(`duplicate_key` before version 2)."
        ),
    )
    ambiguous: Literal["hold", "oldest", "newest"] = Field(
        "hold",
        description="A key finds several records of one type: `hold` as a conflict, or pick the oldest/newest.",
    )
    invalid_key: Literal["skip", "create"] = Field(
        "skip",
        description=(
            "A record whose match keys are present but none is valid (a phone no region reads): "
            "`skip` it with the reason, or match nothing and `create` its partner."
        ),
    )
    duplicates: Literal["hold", "link_all"] = Field(
        "hold",
        description=(
            "Several source records share a match key: the oldest syncs, and the others are held as "
            "a conflict naming them all (`hold`), or all link to its one target record (`link_all`, "
            "where the platform keeps one person in several rows), each update flowing to all."
        ),
    )
    concurrent_edit: ConflictWinner = Field(
        "last_write_wins",
        description="Both sides changed one record since the last sync: who wins, field by field.",
    )


class Deletes(Strict):
    """Whether deleting a record on one side deletes its linked record on the other."""

    to_target: Literal["propagate", "ignore"] = Field(
        "ignore", description="A source deletion deletes the linked target record."
    )
    to_source: Literal["propagate", "ignore"] = Field(
        "ignore", description="A target deletion deletes the linked source record."
    )


LIMIT_PATTERN = r"^[0-9]+(\.[0-9]+)?%$"
Limit = Annotated[int, Field(ge=0)] | Annotated[str, Field(pattern=LIMIT_PATTERN)]


class Limits(Strict):
    """The most writes of each kind a run may make to one side: a number, or a percentage
    (`"20%"`) of the records that side holds. A run over one stops before writing them."""

    creates: Limit | None = Field(None, description="Most records created, e.g. `1000`.")
    updates: Limit | None = Field(None, description="Most records updated, e.g. `20%`.")
    deletes: Limit | None = Field(
        None, description="Most records deleted, e.g. `1%` (by default 10%, past 10 records)."
    )


class ObjectMapping(Strict):
    """One synced object: how records of a source type and a target type correspond."""

    description: str | None = Field(None, description="What this object sync is for.")
    source: Side = Field(description="The platform side.")
    target: Side = Field(description="The other side, usually Salesforce.")
    direction: Direction | Directions = Field(
        "both", description=f"One direction for create and update ({DIRECTION_HELP}), or each separately."
    )
    match: list[MatchKey] = Field(
        default_factory=list, description="Keys that identify the same record, tried in order."
    )
    filters: list[Filter] = Field(
        default_factory=list, description="Conditions a record must meet; failures are skipped with a reason."
    )
    fields: dict[str, str | FieldMapping] = Field(
        default_factory=dict,
        description=(
            "Target field -> source field path, or a mapping with a transform, constant, template, "
            "value map, direction..."
        ),
    )
    conflicts: Conflicts = Field(default_factory=Conflicts, description="Conflict policies.")
    deletes: Literal["propagate", "ignore"] | Deletes = Field(
        "ignore", description="`propagate` or `ignore` deletions both ways, or each way separately."
    )
    parent: Name | Parent | None = Field(
        None, description="Object this one belongs to; synced first, records without a linked parent skipped."
    )
    limits: Limits | None = Field(
        None, description="The most writes a run may make to this object; over the job's."
    )
    mode: Literal["automatic", "manual"] = Field(
        "automatic",
        description="`manual` objects run only when asked (one-time operations such as pulling lead statuses).",
    )


SCHEDULE_PATTERN = r"^([1-9][0-9]*[smhd]|manual|\S+( \S+){4})$"


class Document(Strict):
    """A syncmap mapping document: connections and the objects synced between them."""

    syncmap: Literal[2] = Field(description="Version of the mapping language this document uses.")
    name: Name | None = Field(None, description="Job name (defaults to the file name).")
    description: str | None = Field(None, description="What this sync does and for whom.")
    extends: str | None = Field(
        None, description="Path of a template this document starts from; its values are overridden here."
    )
    schedule: str | None = Field(
        None,
        pattern=SCHEDULE_PATTERN,
        description="How often `syncmap watch` runs this job: an interval (`5m`), a cron expression in the "
        "document's time zone (`0 6 * * 1-5`), or `manual`.",
    )
    defaults: Defaults = Field(default_factory=Defaults, description="Defaults for expressions and keys.")
    limits: Limits | None = Field(None, description="The most writes a run may make to each object.")
    connections: dict[str, Connection] = _names("Systems this document connects, by name.")
    rule_sets: list[str] = Field(
        default_factory=list, description="Paths of rule set files whose rules filters may use."
    )
    value_maps: dict[str, dict[str, Scalar]] = _names(
        "Named value translations (`source value: target value`), used by `value_map`."
    )
    objects: dict[str, ObjectMapping] = Field(
        description="Synced objects by name; ordered by their dependencies when run.",
        json_schema_extra={"propertyNames": {"pattern": NAME_PATTERN}, "minProperties": 1},
    )

    @field_validator("schedule")
    @classmethod
    def _cron(cls, schedule: str | None) -> str | None:
        """Five fields are a cron expression, checked here (the schema cannot say which are valid)."""
        if problem := cron_problem(schedule):
            raise ValueError(problem)
        return schedule


class Rule(Strict):
    """A reusable filter condition."""

    description: str | None = Field(None, description="What the rule checks.")
    require: Expression = Field(description="Expression that must be true to keep the record.")
    reason: str = Field(min_length=1, description="Why a record failing the rule is skipped.")


class RuleSet(Strict):
    """A file of reusable rules and value maps, shared by several mapping documents."""

    syncmap: Literal[2] = Field(description="Version of the mapping language this file uses.")
    description: str | None = Field(None, description="What these rules are for.")
    rules: dict[str, Rule] = _names("Rules by name, referenced from filters as `rule: name`.")
    value_maps: dict[str, dict[str, Scalar]] = _names(
        "Named value translations shared by the documents that use this rule set."
    )


def build(kind: str, data: dict, source: SourceMap) -> Document | RuleSet:
    """The typed model of checked data; pydantic's errors are located like schema errors."""
    model = Document if kind == "mapping" else RuleSet
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise DocumentError(
            [
                source.diagnostic(
                    "invalid-value", error["msg"].removeprefix("Value error, "), tuple(error["loc"])
                )
                for error in e.errors()
            ]
        ) from e
