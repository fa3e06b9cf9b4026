"""The agent engine: tools, the loop, providers. PURE: imports nothing from FastAPI, SQLAlchemy
or the web packages, so it can run and be tested alone. The service reaches it through small
protocols (a workspace context, an event sink, an approval gate)."""
