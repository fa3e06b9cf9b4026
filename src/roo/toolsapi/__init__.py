"""The tools API: list the agent's tools and run one directly in a session's workspace."""
