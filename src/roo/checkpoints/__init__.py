"""Checkpoints: snapshots of a session's workspace before each step of a task that writes to
it, in a shadow Git repository outside the workspace; listed, diffed and restored by the API."""
