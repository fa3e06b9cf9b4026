"""A deep path costs the path guard one directory fd, not one per level.

The guard used to hold an fd for every directory on the way down (to walk `..` in link targets),
so a user could make their own request fail with EMFILE, a 500, by addressing a path deeper than
the process's fd limit in their workspace. The walk now holds the current directory only and
checks the parent it reopens for `..` by device and inode.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

DEPTH = 400

# Runs in a child with a soft fd limit far below the depth: the old walk needed DEPTH fds.
_CHILD = textwrap.dedent(
    """
    import os, resource, sys
    from pathlib import Path
    from roo.pathguard import Root

    ws, depth = Path(sys.argv[1]), int(sys.argv[2])
    fd = os.open(ws, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(depth):
        os.mkdir("d", dir_fd=fd)
        nxt = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nxt
    w = os.open("f", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(w, b"deep")
    os.close(w)
    # A link at the bottom that climbs 3 levels and comes back down.
    os.symlink("../../../d/d/d/f", "up", dir_fd=fd)
    os.close(fd)

    resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    deep = "/".join(["d"] * depth)
    with Root(ws) as root:
        for name in ("f", "up"):
            f = root.open_read(f"{deep}/{name}")
            print(os.read(f, 10).decode())
            os.close(f)
        print(root.stat(f"{deep}/up").st_size)
    """
)


def test_a_path_deeper_than_the_fd_limit_resolves(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(ws), str(DEPTH)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["deep", "deep", "4"]
