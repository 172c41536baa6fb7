"""`syncmap explain`: a record's story, from the state store. Its link and the values the pair
agreed on, why it is held (if it is), its failed write, a person's decisions on it, and every
write made to it or because of it, each with its run."""

from __future__ import annotations

import json
from typing import Any

from engine.errors import UsageError
from engine.state import StateStore


def story(state: StateStore, job: str, record: str, steps: list[str]) -> dict[str, Any]:
    """What the store knows of a record (its id, on either side) in a job's steps."""
    found: dict[str, Any] = {
        "job": job,
        "record": record,
        "links": [],
        "held": [],
        "failed": [],
        "decisions": [],
    }
    for step in steps:
        for link in state.links_of_record(job, step, record):
            agreed = state.snapshots(job, step, [link.source_id]).get(link.source_id)
            found["links"].append({"step": step, "source": f"{link.source_type} {link.source_id}",
                                   "target": f"{link.target_type} {link.target_id}", "made_by": link.made_by,
                                   "agreed": agreed})  # fmt: skip
    found["held"] = [hold for hold in state.holds(job) if hold["record_id"] == record]
    found["failed"] = [letter for letter in state.dead_letters(job) if letter["record_id"] == record]
    found["decisions"] = [
        {
            "step": d.step,
            "decision": d.kind,
            "candidate": d.candidate,
            "made_at": d.made_at,
            "applied_run": d.applied_run,
        }
        for d in state.decisions(job)
        if d.record_id == record
    ]
    found["writes"] = state.writes_of(job, record)
    if not any(found[part] for part in ("links", "held", "failed", "decisions", "writes")):
        raise UsageError(
            f"{job} knows nothing of `{record}`",
            hint="give the id of a record a run has read, on either side",
        )
    return found


def render(found: dict[str, Any]) -> str:
    lines = [f"{found['record']} in {found['job']}"]
    for link in found["links"]:
        lines.append(
            f"  {link['step']}: {link['source']} <-> {link['target']}  (linked by {link['made_by']})"
        )
        for name, value in (link["agreed"] or {}).items():
            lines.append(f"      agreed {name}: {json.dumps(value, default=str)}")
    lines += [f"  held [{h['code']}] since {h['since']}: {h['reason']}" for h in found["held"]]
    lines += [
        f"  failed {f['attempts']}x ({f['op']} {f['record_type']}): {f['error']}" for f in found["failed"]
    ]
    for d in found["decisions"]:
        taken = f"taken by run #{d['applied_run']}" if d["applied_run"] else "not taken yet"
        lines.append(
            f"  decided by a person: {d['decision']} {d['candidate'] or ''}".rstrip() + f" ({taken})"
        )
    for w in found["writes"]:
        lines.append(f"  run #{w['run_id']}: {w['op']} {w['side']} {w['record_type']} {w['record_id'] or '(new)'}"
                     f" from {w['origin_id']} ({w['state']}, {w['created_at']})")  # fmt: skip
    return "\n".join(lines)
