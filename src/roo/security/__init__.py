"""Cross-cutting security: the audit trail (`audit`), secrets at rest (`secrets_box`), the
private data directory (`datadir`) and the checks on outbound provider URLs (`egress`).

The path guard is `roo.pathguard`, a pure package of its own (no database, no web).
"""
