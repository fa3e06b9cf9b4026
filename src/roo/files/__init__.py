"""Files API: read, list, write and delete files in a session's workspace (`roo.files.endpoints`).

Every path goes through `roo.pathguard`; nothing here opens a path the guard did not
resolve.
"""
