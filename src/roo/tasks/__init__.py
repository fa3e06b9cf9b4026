"""Tasks: agent runs inside a session. The runner joins the pure engine (`roo.agent`) to the
database, the session's sandbox and the event log; the endpoints are the seed's tasks API."""
