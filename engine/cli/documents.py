"""Commands on documents: validate, compile, diff, test, upgrade, schema."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click
import yaml

from engine import diff, mapping_tests, remote, versions
from engine.cli.common import FORMAT, _error_summary, command, reports_errors
from engine.compile import compile_plan
from engine.diagnostics import render_json, render_text
from engine.errors import DocumentError, UsageError
from engine.job import Job
from engine.plan import plan_data
from engine.scaffold import scaffold
from engine.schema import KINDS, schema_text
from engine.validate import validate as validate_documents


@command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@FORMAT
@reports_errors
def validate(paths: tuple[Path, ...], output_format: str) -> None:
    """Check mapping documents and rule sets (files, or folders searched for *.yaml/*.yml).

    Every error of every file is reported, in file order, with its location and a hint.
    Exits 0 when all documents are valid, 1 when any is invalid, 64 on usage errors.
    """
    report = validate_documents(paths or (Path("."),))
    if output_format == "json":
        click.echo(
            json.dumps(
                {
                    "valid": report.valid,
                    "documents": report.documents,
                    "errors": json.loads(render_json(report.diagnostics)),
                },
                indent=2,
            )
        )
    elif report.valid:
        count = len(report.documents)
        click.echo(f"{count} document{'s' if count != 1 else ''} valid.")
    else:
        click.echo(render_text(report.diagnostics), err=True)
        click.echo(_error_summary(len(report.diagnostics)), err=True)
    sys.exit(0 if report.valid else 1)


@command("compile")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@FORMAT
@click.option("--check-remote", is_flag=True, help="Also check fields against the connected systems (describe).")  # fmt: skip
@reports_errors
def compile_command(file: Path, output_format: str, check_remote: bool) -> None:
    """Compile a mapping document into its Plan and print it.

    `extends` and rule sets are resolved, defaults filled in, objects ordered by their
    dependencies. The hash changes exactly when the meaning of the documents changes. With
    --check-remote, target fields are checked against each connection's describe.
    """
    compiled = compile_plan(file)
    if check_remote:
        with Job.open(file, read_only=True) as job:
            problems = remote.check_remote(job.plan, job.connectors)
        if problems:
            raise DocumentError(problems)
    data = {"hash": compiled.hash, "files": list(compiled.files), **plan_data(compiled)}
    if output_format == "json":
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"# plan {compiled.name} {compiled.hash}")
    click.echo(f"# compiled from {', '.join(compiled.files)}")
    click.echo(
        yaml.dump(plan_data(compiled), Dumper=_PlanDumper, sort_keys=False, allow_unicode=True, width=110),
        nl=False,
    )


class _PlanDumper(yaml.SafeDumper):
    """Short lists of plain values on one line (`types: [Lead, Contact]`), as a person writes them."""

    def represent_list(self, data: list) -> yaml.Node:
        flow = all(isinstance(item, str | int | float | bool) for item in data)
        return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_PlanDumper.add_representer(list, _PlanDumper.represent_list)


@command("diff")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--git", "revision", metavar="REV", help="Compare FILE with itself at a git revision (e.g. main)."
)
@click.option(
    "--format", "output_format", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True,
    help="Text for a terminal, markdown for a pull-request comment, JSON for machines.",
)  # fmt: skip
@click.option("--data", is_flag=True, help="Also dry-run both versions and show how the counts change.")
@reports_errors
def diff_command(files: tuple[Path, ...], revision: str | None, output_format: str, data: bool) -> None:
    """The difference in meaning between two versions of a mapping: OLD NEW, or --git REV FILE.

    Compares the compiled plans (with everything each version extends), not the text, and marks
    the risky changes: writing into a system for the first time, propagating deletes, changed
    match keys, creation switched on, a filter removed.
    """
    if len(files) != (1 if revision else 2):
        raise UsageError(
            "give two files (OLD NEW), or one file with --git REV",
            hint="e.g. `syncmap diff --git main mappings/acme.yaml`",
        )
    new_path = files[-1]
    old_plan = diff.compile_at_revision(new_path, revision) if revision else compile_plan(files[0])
    new_plan = compile_plan(new_path)
    old_name = f"{revision}:{new_path}" if revision else str(files[0])
    differences = diff.diff_plans(old_plan, new_plan)
    impact = diff.data_impact(old_plan, new_plan, new_path) if data else None
    if output_format == "json":
        click.echo(diff.render_json(differences, old_name, str(new_path), impact))
        return
    render = diff.render_markdown if output_format == "markdown" else diff.render_text
    click.echo(render(differences, old_name, str(new_path)))
    if impact is not None:
        click.echo("\n" + diff.render_impact(impact, markdown=output_format == "markdown"))


@command("test")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--if-any", is_flag=True, help="Finding no tests is not an error (for a pre-commit hook).")
@FORMAT
@reports_errors
def test_command(paths: tuple[Path, ...], if_any: bool, output_format: str) -> None:
    """Run the mapping tests (`*.test.yaml`) in PATHS (default: the current folder).

    Each test gives records on each connection (held in memory: no database, org or secret is
    needed) and the changes expected per object; a failure lists the expected changes not made
    and the changes made that were not expected. Exits 1 when any test fails.
    """
    files = mapping_tests.find_test_files(list(paths))
    if not files and not if_any:
        raise UsageError(
            "no mapping tests (*.test.yaml) found", hint="write one next to the mapping it tests"
        )
    outcomes = [outcome for path in files for outcome in mapping_tests.run_file(path)]
    failed = sum(1 for outcome in outcomes if not outcome.passed)
    if output_format == "json":
        tests = [
            {"file": str(o.file), "case": o.case, "passed": o.passed, "problems": o.problems}
            for o in outcomes
        ]
        click.echo(json.dumps({"passed": len(outcomes) - failed, "failed": failed, "tests": tests}, indent=2))
        sys.exit(1 if failed else 0)
    if not files:
        click.echo("No mapping tests (*.test.yaml) found.")
        return
    for outcome in outcomes:
        mark = click.style("✓", fg="green") if outcome.passed else click.style("✗", fg="red", bold=True)
        click.echo(f"{mark} {outcome.file}: {outcome.case}")
        for problem in outcome.problems:
            click.echo(f"    {problem}")
    summary = f"{len(outcomes) - failed} passed, {failed} failed, in {len(files)} file{'s' if len(files) != 1 else ''}."
    click.echo(click.style(summary, bold=True, fg="red" if failed else "green"))
    sys.exit(1 if failed else 0)


@command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--check", is_flag=True, help="Change nothing; exit 1 when a file is not in the newest version.")  # fmt: skip
@FORMAT
@reports_errors
def upgrade(files: tuple[Path, ...], check: bool, output_format: str) -> None:
    """Rewrite documents in the newest version of the language.

    Only the keys that changed and the version number are edited: comments, quoting and layout
    stay. Older documents keep working without it; upgrading makes them match the published
    schema of the newest version.
    """
    results = [(path, *versions.upgrade(path, write=not check)) for path in files]
    behind = sum(1 for _, version, _ in results if version != versions.LATEST)
    if output_format == "json":
        documents = [
            {"file": str(path), "version": version, "behind": version != versions.LATEST, "renamed": changes}
            for path, version, changes in results
        ]
        click.echo(
            json.dumps({"latest": versions.LATEST, "written": not check, "files": documents}, indent=2)
        )
    else:
        for path, version, changes in results:
            if version == versions.LATEST:
                click.echo(f"{path}: already version {version}")
                continue
            verb = "would upgrade" if check else "upgraded"
            click.echo(f"{path}: {verb} from version {version} to {versions.LATEST}")
            for change in changes:
                click.echo(f"  renamed {change}")
    if check and behind:
        sys.exit(1)


@command()
@click.option("--kind", type=click.Choice(sorted(KINDS)), default="mapping", show_default=True,
              help="Whole documents, documents extending a template, mapping tests, or rule sets.")  # fmt: skip
def schema(kind: str) -> None:
    """Print the JSON Schema of mapping documents, for editors and other tools."""
    click.echo(schema_text(kind), nl=False)


@command()
@click.argument("folder", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--template", default="avochato", show_default=True, help="The shipped template to extend.")
@click.option("--name", help="The job's name and its document's (default: the folder's name).")
@reports_errors
def init(folder: Path, template: str, name: str | None) -> None:
    """Start a customer repository in FOLDER: a document extending a shipped template, the
    project marker, a .gitignore, pre-commit hooks and editor settings."""
    job = name or re.sub(r"[^a-z0-9_-]+", "-", folder.resolve().name.lower()).strip("-") or "customer"
    for path in scaffold(folder, template, job):
        click.echo(f"wrote {path}")
    click.echo(f"next: `syncmap plan {folder / job}.yaml` once its connections point at your systems")


COMMANDS = (validate, compile_command, diff_command, test_command, upgrade, schema, init)
