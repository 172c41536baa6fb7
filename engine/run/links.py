"""A step's links, loaded once per run: what its routing looks up (by source id, by target id, the
sources sharing a target) and what later steps translate ids through, with the links this run
plans seen at once."""

from __future__ import annotations

from collections import defaultdict

from engine.state import Link


class StepLinks:
    """One step's links as the state store held them when the run began, plus the links it plans."""

    def __init__(self, stored: dict[str, Link]):
        self.by_source = stored  # source id -> link
        self.by_target = {link.target_id: link for link in stored.values() if not link.shared}
        self.sharers: dict[str, list[Link]] = defaultdict(list)  # target id -> other sources (link_all)
        for link in stored.values():
            if link.shared:
                self.sharers[link.target_id].append(link)
        self.planned: dict[str, str] = {}  # source id -> target id, linked in this run
        self._target_ids: dict[str, str] | None = None
        self._source_ids: dict[str, str] | None = None

    def sources_of(self, target_id: str) -> list[Link]:
        """Every source record linked to a target record: one, or several with `link_all`."""
        primary = self.by_target.get(target_id)
        return ([primary] if primary else []) + self.sharers.get(target_id, [])

    def linked(self, side: str, record_id: str) -> bool:
        """Whether a record of a side has a link."""
        if side == "source":
            return record_id in self.by_source
        return record_id in self.by_target or record_id in self.sharers

    def target_ids(self) -> dict[str, str]:
        """Source id -> target id, the links planned in this run included."""
        if self._target_ids is None:
            self._target_ids = {source_id: link.target_id for source_id, link in self.by_source.items()}
            self._target_ids.update(self.planned)
        return self._target_ids

    def source_ids(self) -> dict[str, str]:
        """Target id -> source id: ``target_ids`` the other way round; of several sources sharing
        a target (`link_all`), the one that made the link."""
        if self._source_ids is None:
            links = sorted(self.by_source.values(), key=lambda link: not link.shared)
            self._source_ids = {link.target_id: link.source_id for link in links}  # the primary last: it wins
            self._source_ids.update({target: source for source, target in self.planned.items()})
        return self._source_ids

    def plan(self, source_id: str, target_id: str) -> None:
        """A link this run will make: seen at once by the translations through this step."""
        self.planned[source_id] = target_id
        if self._target_ids is not None:
            self._target_ids[source_id] = target_id
        if self._source_ids is not None:
            self._source_ids.setdefault(target_id, source_id)
