"""What the service keeps on disk is private to the service user.

`ROO_DATA_DIR`, `WORKSPACE_ROOT` and the SQLite database's directory are 0700; the database
file (and its `-wal`, `-shm` and `-journal` companions) and the generated secrets are 0600.
`secure_data_dir` runs at start-up (the app lifespan, and the CLI before it opens the
database): it creates what is missing with these modes, and tightens what it finds wider (a data
directory made by an earlier version, or by an operator's `mkdir` under a umask of 022), saying
so in the log. It never widens a mode, and it leaves alone what the service user does not own
and sticky directories such as `/tmp` (with a warning): those are the operator's to fix.

The database file is created before SQLite opens it because SQLite gives its `-wal` and `-shm`
files the mode of the database file: a 0600 database keeps its companions 0600 too.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from roo.config import DEV_JWT_SECRET_FILE, Settings
from roo.db.engine import sqlite_path
from roo.kit.logs import get_logger
from roo.security.secrets_box import DEV_KEY_FILE

log = get_logger("roo.security")

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
SECRET_FILES = (DEV_JWT_SECRET_FILE, DEV_KEY_FILE)


def secure_data_dir(settings: Settings) -> None:
    """Create or tighten the service's directories and files (see the module docstring)."""
    private_directory(settings.data_dir)
    database = sqlite_path(settings.db_url)
    if database is not None:
        if not database.parent.exists():  # an existing directory elsewhere is the operator's
            private_directory(database.parent)
        private_file(database)
        for suffix in SQLITE_COMPANIONS:
            companion = database.with_name(database.name + suffix)
            if companion.exists():
                tighten(companion, PRIVATE_FILE)
    for name in SECRET_FILES:
        secret = settings.data_dir / name
        if secret.exists():
            tighten(secret, PRIVATE_FILE)
    private_directory(settings.workspaces_dir)


def private_directory(path: Path) -> None:
    """`path` exists as a directory of mode 0700 (missing parents are created 0700 too)."""
    for missing in reversed([p for p in (path, *path.parents) if not p.exists()]):
        missing.mkdir(mode=PRIVATE_DIR, exist_ok=True)
        os.chmod(missing, PRIVATE_DIR)  # mkdir's mode passes through the umask
    tighten(path, PRIVATE_DIR)


def private_file(path: Path) -> None:
    """`path` exists as a file of mode 0600 (created empty when missing)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE)
    except FileExistsError:
        tighten(path, PRIVATE_FILE)
        return
    try:
        os.fchmod(fd, PRIVATE_FILE)  # the umask could only narrow it, but say it once
    finally:
        os.close(fd)


def tighten(path: Path, mode: int) -> None:
    """Drop the permission bits of `path` beyond `mode`; never add any."""
    st = os.stat(path)
    current = stat.S_IMODE(st.st_mode)
    wanted = current & mode
    if wanted == current:
        return
    if st.st_uid != os.geteuid() or (stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX):
        log.warning(
            "files.not_private",
            path=str(path),
            mode=oct(current),
            reason="not owned by the service user" if st.st_uid != os.geteuid() else "sticky",
            fix=f"chmod {oct(mode)[2:]} {path}",
        )
        return
    os.chmod(path, wanted)
    log.warning("files.tightened", path=str(path), was=oct(current), now=oct(wanted))
