"""``python -m engine.sandbox``: the sandbox command without the syncmap CLI around it."""

from engine.sandbox.command import sandbox_command

sandbox_command(prog_name="python -m engine.sandbox")
