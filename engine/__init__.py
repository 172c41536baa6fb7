"""syncmap: a declarative engine for two-way CRM sync.

The public API mirrors the stages of the flow: ``load`` YAML into located nodes, ``check`` them
against the JSON Schema, ``build`` the typed model, ``compile_plan`` into an immutable Plan.
"""

__version__ = "0.1.0"
