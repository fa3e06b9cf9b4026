"""Real time: the session event log pushed to subscribers as it is written (`bus`), and the
server-sent events stream of `GET /sessions/{id}/events` (`sse`). See docs/realtime.md."""
