"""`python -m engine` runs the `syncmap` command."""

from engine.cli import main

main(prog_name="syncmap")
