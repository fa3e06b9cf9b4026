"""`roo.pathguard` on its own: the text rules, the fd walk, links, writes, races."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from roo import pathguard
from roo.pathguard import PathRejected, Root
from roo.pathguard.tree import _Descent


@pytest.mark.parametrize(
    ("user_path", "names"),
    [
        ("", ()),
        (".", ()),
        ("./", ()),
        ("src", ("src",)),
        ("src/", ("src",)),
        ("./src/./main.py", ("src", "main.py")),
        ("a b/c%20d.txt", ("a b", "c%20d.txt")),  # a harmless escape stays literal text
        ("100%.txt", ("100%.txt",)),
        ("\uff0e\uff0e/x", ("\uff0e\uff0e", "x")),  # fullwidth dots: an ordinary name
        ("...", ("...",)),
        (".. /x", (".. ", "x")),
        ("ab:c/d:e", ("ab:c", "d:e")),
        ("é/ß.txt", ("é", "ß.txt")),
        ("x" * 255, ("x" * 255,)),
    ],
)
def test_split_accepts(user_path: str, names: tuple[str, ...]) -> None:
    assert pathguard.split(user_path) == names


@pytest.mark.parametrize(
    ("user_path", "reason"),
    [
        ("..", "'..'"),
        ("../x", "'..'"),
        ("a/../../x", "'..'"),
        ("a/./../../x", "'..'"),
        ("a/..", "'..'"),
        ("/etc/passwd", "absolute"),
        ("//etc/passwd", "absolute"),
        ("a//b", "empty segment"),
        (".//a", "empty segment"),
        ("..\\x", "backslash"),
        ("C:\\Windows", "backslash"),
        ("C:/Windows/win.ini", "Windows drive"),
        ("c:", "Windows drive"),
        ("c:relative", "Windows drive"),
        ("~/.ssh/id_rsa", "'~'"),
        ("~root", "'~'"),
        ("a\x00b", "NUL"),
        ("a\nb", "control character (U+000A)"),
        ("a\x7fb", "control character"),
        ("a\u202eb", "control character (U+202E)"),
        ("a\u2028b", "control character"),
        ("\ufffd\ufffd/x", "not valid UTF-8"),
        ("a\udcc0b", "not valid UTF-8"),
        ("%2e%2e/x", "percent-encoded twice"),
        ("%2E%2E%2Fx", "percent-encoded twice"),
        ("..%2fx", "percent-encoded twice"),
        ("%252e", "percent-encoded twice"),
        ("%c0%ae%c0%ae/x", "percent-encoded twice"),
        ("a%00b", "percent-encoded twice"),
        ("x" * 256, "longer than 255 bytes"),
        ("é" * 128, "longer than 255 bytes"),
        ("/".join(["x" * 200] * 21), "longer than 4096 bytes"),
    ],
)
def test_split_refuses(user_path: str, reason: str) -> None:
    with pytest.raises(PathRejected) as refused:
        pathguard.split(user_path)
    assert reason in refused.value.reason


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(workspace, outside): a workspace beside a directory holding a secret."""
    workspace = tmp_path / "ws"
    outside = tmp_path / "outside"
    (workspace / "src").mkdir(parents=True)
    (workspace / "src" / "main.py").write_text("print('inside')\n")
    outside.mkdir()
    (outside / "secret").write_text("SECRET")
    yield workspace, outside
    assert (outside / "secret").read_text() == "SECRET"
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]


def read(root: Root, user_path: str) -> bytes:
    fd = root.open_read(user_path)
    try:
        return os.pread(fd, 1 << 20, 0)
    finally:
        os.close(fd)


def test_links_inside_are_followed_for_reads(tree: tuple[Path, Path]) -> None:
    workspace, _ = tree
    (workspace / "lib").symlink_to("src")
    (workspace / "src" / "again").symlink_to("../src/main.py")
    (workspace / "self").symlink_to(".")
    (workspace / "chain1").symlink_to("chain2")
    (workspace / "chain2").symlink_to("src/again")
    with Root(workspace) as root:
        for path in ("lib/main.py", "src/again", "self/self/src/main.py", "chain1"):
            assert read(root, path) == b"print('inside')\n", path
        assert root.resolve("lib/main.py") == workspace / "src" / "main.py"
        assert root.resolve("lib/new/file") == workspace / "src" / "new" / "file"
        assert root.resolve("") == workspace


@pytest.mark.parametrize(
    "target",
    [
        "/etc/passwd",
        "../outside/secret",
        "../outside",
        "..",
        "src/../../outside/secret",
        "{outside}/secret",
        "{workspace}/src/main.py",  # absolute, even when it names a file inside
    ],
)
def test_links_leaving_the_workspace_are_refused(tree: tuple[Path, Path], target: str) -> None:
    workspace, outside = tree
    (workspace / "link").symlink_to(target.format(outside=outside, workspace=workspace))
    with Root(workspace) as root:
        for path in ("link", "link/secret", "link/x/y"):
            with pytest.raises(PathRejected):
                read(root, path)
            with pytest.raises(PathRejected):
                root.resolve(path)
        with pytest.raises(PathRejected):
            root.open_write("link/new", create_parents=True)
        with pytest.raises(PathRejected):
            root.mkdir("link/new", parents=True)
        with pytest.raises(PathRejected):
            root.remove("link/secret")
        # The link itself is the workspace's: deleting it removes the link, not its target.
        assert root.remove("link") == "symlink"
    assert not (workspace / "link").is_symlink()


def test_loops_and_dangling_links(tree: tuple[Path, Path]) -> None:
    workspace, _ = tree
    (workspace / "loop1").symlink_to("loop2")
    (workspace / "loop2").symlink_to("loop1")
    (workspace / "dangling").symlink_to("missing")
    with Root(workspace) as root:
        with pytest.raises(PathRejected, match="too many levels"):
            root.open("loop1")
        with pytest.raises(FileNotFoundError):
            root.open("dangling")
        assert root.resolve("dangling") == workspace / "missing"


def test_writes_never_follow_the_last_link(tree: tuple[Path, Path]) -> None:
    workspace, _ = tree
    (workspace / "alias.py").symlink_to("src/main.py")
    with Root(workspace) as root, root.open_write("alias.py") as writer:
        writer.write(b"replaced")
        with pytest.raises(PathRejected, match="symbolic link"):
            writer.commit()
    assert (workspace / "src" / "main.py").read_text() == "print('inside')\n"
    assert [p.name for p in workspace.iterdir() if p.name.startswith(".roo-upload")] == []


def test_atomic_writer(tree: tuple[Path, Path]) -> None:
    workspace, _ = tree
    script = workspace / "run.sh"
    script.write_text("old")
    script.chmod(0o755)
    with Root(workspace) as root:
        with root.open_write("run.sh") as writer:
            writer.write(b"new")
            assert script.read_text() == "old"  # not visible before the commit
            writer.commit()
        assert script.read_text() == "new"
        assert script.stat().st_mode & 0o777 == 0o755
        with root.open_write("run.sh", exclusive=True) as writer, pytest.raises(FileExistsError):
            writer.commit()
        with pytest.raises(pathguard.MissingParent):
            root.open_write("a/b/c.txt")
        with root.open_write("a/b/c.txt", create_parents=True) as writer:
            writer.write(b"deep")
            writer.commit()
    assert (workspace / "a" / "b" / "c.txt").read_bytes() == b"deep"
    assert sorted(p.name for p in workspace.iterdir()) == ["a", "run.sh", "src"]


def test_fifo_does_not_hang_a_read(tree: tuple[Path, Path]) -> None:
    workspace, _ = tree
    os.mkfifo(workspace / "pipe")
    with Root(workspace) as root, pytest.raises(pathguard.UnsupportedFileType):
        root.open_read("pipe")


def test_recursive_remove_never_follows_links(tree: tuple[Path, Path]) -> None:
    workspace, outside = tree
    deep = workspace / "gone" / "a" / "b"
    deep.mkdir(parents=True)
    (deep / "f").write_text("x")
    (deep / "out").symlink_to(outside)
    (workspace / "gone" / "secret").symlink_to(outside / "secret")
    with Root(workspace) as root:
        with pytest.raises(OSError, match="not empty"):
            root.remove("gone")
        assert root.remove("gone", recursive=True) == "dir"
        with pytest.raises(PathRejected, match="root"):
            root.remove("")
        with pytest.raises(PathRejected, match="root"):
            root.remove("./")
    assert not (workspace / "gone").exists()


def test_swapping_a_directory_for_an_outside_link_never_escapes(
    tree: tuple[Path, Path],
) -> None:
    """A command swaps `d` between a directory and a link out while the guard reads and writes
    through it: every operation lands inside or is refused; the secret is never read."""
    workspace, outside = tree
    (workspace / "d").mkdir()
    (workspace / "d" / "secret").write_text("inside")
    stop = threading.Event()

    def swap() -> None:
        while not stop.is_set():
            os.rename(workspace / "d", workspace / "d.real")
            os.symlink(outside, workspace / "d")
            os.unlink(workspace / "d")
            os.symlink("../outside", workspace / "d")
            os.unlink(workspace / "d")
            os.rename(workspace / "d.real", workspace / "d")
            time.sleep(0.0002)  # let the other side win sometimes too

    swapper = threading.Thread(target=swap)
    swapper.start()
    outcomes: set[str] = set()
    try:
        with Root(workspace) as root:
            for i in range(2000):
                try:
                    if i % 2:
                        assert read(root, "d/secret") == b"inside"
                    else:
                        with root.open_write("d/secret") as writer:
                            writer.write(b"inside")
                            writer.commit()
                    outcomes.add("ok")
                except PathRejected:
                    outcomes.add("refused")
                except FileNotFoundError:
                    outcomes.add("missing")
    finally:
        stop.set()
        swapper.join()
    assert "ok" in outcomes
    assert outcomes <= {"ok", "refused", "missing"}


def test_one_shot_helpers(tree: tuple[Path, Path]) -> None:
    workspace, _ = tree
    (workspace / "link").symlink_to("src")
    assert pathguard.listdir(workspace, "link") == ["main.py"]
    assert pathguard.stat(workspace, "link/main.py").st_size == len("print('inside')\n")
    assert pathguard.resolve(workspace, "link/main.py") == workspace / "src" / "main.py"
    with pathguard.open_write(workspace, "new/file.txt", create_parents=True) as writer:
        writer.write(b"one")
        writer.commit()
    fd = pathguard.open_read(workspace, "new/file.txt")
    try:
        assert os.pread(fd, 10, 0) == b"one"
    finally:
        os.close(fd)
    pathguard.mkdir(workspace, "made")
    assert pathguard.remove(workspace, "made") == "dir"
    assert pathguard.remove(workspace, "new", recursive=True) == "dir"
    with pytest.raises(PathRejected):
        pathguard.listdir(workspace, "../outside")


def _same_dir(fd: int, path: Path) -> bool:
    st, other = os.fstat(fd), path.stat()
    return (st.st_dev, st.st_ino) == (other.st_dev, other.st_ino)


@pytest.mark.parametrize("moved_to", ["up", "outside"])
def test_the_tree_walk_climbs_back_only_where_it_came_from(
    tree: tuple[Path, Path], moved_to: str
) -> None:
    """The walk holds only its current directory; going up opens `..`. When a command moved
    the directory meanwhile (one level up, or, for the worst case, right out of the tree),
    `..` is somewhere else: the walk notices and reopens the parent by its names from the top."""
    workspace, outside = tree
    (workspace / "a" / "b").mkdir(parents=True)
    top = os.open(workspace, os.O_RDONLY | os.O_DIRECTORY)
    descent = _Descent(top)
    try:
        assert descent.down("a")
        assert descent.down("b")
        target = workspace / "b-moved" if moved_to == "up" else outside / "b-moved"
        os.rename(workspace / "a" / "b", target)
        assert not descent.up()  # not where it came from: reopened by names
        assert descent.names == ["a"]
        assert _same_dir(descent.fd, workspace / "a")
        os.rmdir(workspace / "a")
        assert descent.up()  # to the top: never through `..`
        assert _same_dir(descent.fd, workspace)
    finally:
        descent.close()
        os.close(top)
        target.rmdir()


def test_tree_usage_and_remove_tree_never_enter_links(tree: tuple[Path, Path]) -> None:
    workspace, outside = tree
    (workspace / "d" / "e").mkdir(parents=True)
    (workspace / "d" / "e" / "f").write_bytes(b"x" * 10_000)
    os.link(workspace / "d" / "e" / "f", workspace / "d" / "hard")
    (workspace / "d" / "out").symlink_to(outside)
    top = os.open(workspace, os.O_RDONLY | os.O_DIRECTORY)
    try:
        used = pathguard.tree_usage(top)
        assert used.files == 6  # src, main.py, d, e, f and its hard link (once), out
        assert 10_000 <= used.bytes < 10_000 + 64 * 1024
        pathguard.remove_tree(top, "d")
    finally:
        os.close(top)
    assert os.listdir(workspace) == ["src"]
    assert (outside / "secret").exists()
