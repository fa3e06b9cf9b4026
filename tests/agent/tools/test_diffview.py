"""The unified diff the write tools put in their result's data (`diff`) for the people watching."""

from __future__ import annotations

from pathlib import Path

from roo.agent.tools.apply_diff import ApplyDiffTool
from roo.agent.tools.base import ToolContext
from roo.agent.tools.diffview import MAX_COMPARED_CHARS, MAX_DIFF_CHARS, edit_diff
from roo.agent.tools.edit import EditTool
from roo.agent.tools.insert_content import InsertContentTool
from roo.agent.tools.write_to_file import WriteToFileTool


def test_a_changed_line() -> None:
    data = edit_diff("a.py", "x = 1\ny = 2\n", "x = 1\ny = 3\n")
    assert data == {
        "diff": "--- a/a.py\n+++ b/a.py\n@@ -1,2 +1,2 @@\n x = 1\n-y = 2\n+y = 3\n",
        "diffTruncated": False,
    }


def test_a_new_file_and_a_missing_final_newline() -> None:
    diff = edit_diff("n.txt", None, "one\ntwo")["diff"]
    assert diff == (
        "--- /dev/null\n+++ b/n.txt\n@@ -0,0 +1,2 @@\n+one\n+two\n\\ No newline at end of file\n"
    )


def test_bounded() -> None:
    long = edit_diff("big", "", "x" * 100 + "\n" + "y\n" * MAX_DIFF_CHARS)
    assert long["diffTruncated"] is True
    assert isinstance(long["diff"], str)
    assert len(long["diff"]) <= MAX_DIFF_CHARS
    assert edit_diff("huge", "a" * MAX_COMPARED_CHARS, "b") == {"diff": None, "diffTruncated": True}


async def test_each_write_tool_reports_its_diff(ws: Path, ctx: ToolContext) -> None:
    write = await WriteToFileTool().run({"path": "f.txt", "content": "a\nb\n"}, ctx)
    assert write.data["diff"] == "--- /dev/null\n+++ b/f.txt\n@@ -0,0 +1,2 @@\n+a\n+b\n"
    edit = await EditTool().run({"file_path": "f.txt", "old_string": "b", "new_string": "c"}, ctx)
    assert "-b\n+c\n" in str(edit.data["diff"])
    insert = await InsertContentTool().run({"path": "f.txt", "line": 1, "content": "z\n"}, ctx)
    assert "+z\n a\n" in str(insert.data["diff"])
    patch = "<<<<<<< SEARCH\n:start_line:1\n-------\nz\n=======\nZ\n>>>>>>> REPLACE"
    applied = await ApplyDiffTool().run({"path": "f.txt", "diff": patch}, ctx)
    assert not applied.is_error, applied.text_content
    assert "-z\n+Z\n" in str(applied.data["diff"])
    assert (ws / "f.txt").read_text() == "Z\na\nc\n"
