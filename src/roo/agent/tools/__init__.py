"""The agent's tools (Roo-Code's tool set with Roo's semantics). Each tool is one module; the
registry (`registry.py`) lists them. Pure: no web or database imports."""
