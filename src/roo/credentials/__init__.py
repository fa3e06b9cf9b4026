"""Users' own LLM provider credentials (docs/providers.md): encrypted at rest, never returned."""
