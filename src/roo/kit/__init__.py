"""Domain-free building blocks: errors, logging, ids, time."""
