"""Cross-cutting security: the audit trail (rate limits, headers and path guards come later)."""
