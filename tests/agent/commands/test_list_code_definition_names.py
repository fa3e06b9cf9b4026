"""list_code_definition_names: tree-sitter definitions for six languages, files and directories."""

from __future__ import annotations

from pathlib import Path

import pytest

from roo.agent.tools.base import ToolContext
from roo.agent.tools.list_code_definition_names import (
    MAX_DIRECTORY_FILES,
    NO_DEFINITIONS,
    ListCodeDefinitionNamesTool,
)
from tests.agent.commands.conftest import PrefixIgnore, make_context

PYTHON = """\
import os


@decorator
def handler(event):
    value = event["x"]
    value += 1
    return value


class Service(Base):
    def start(self):
        self.running = True
        self.count = 0
        return self

    def tiny(self):
        pass


def short():
    return 1
"""

JAVASCRIPT = """\
export function render(props) {
  const x = props.x;
  return x;
}

const helper = (a, b) => {
  const sum = a + b;
  return sum;
};

class Store {
  get(key) {
    const v = this.map[key];
    return v;
  }
}
"""

TYPESCRIPT = """\
export interface User {
  id: number;
  name: string;
}

export type Handler = (
  user: User,
) => void;

export class Repo {
  find(id: number): User {
    const u = { id, name: "x" };
    return u;
  }
}

enum Color {
  Red,
  Green,
}
"""

GO = """\
package main

type Server struct {
\tAddr string
\tPort int
}

func (s *Server) Start() error {
\tfmt.Println(s.Addr)
\treturn nil
}

func main() {
\ts := &Server{}
\ts.Start()
}
"""

RUST = """\
pub struct Point {
    x: i32,
    y: i32,
}

impl Point {
    pub fn norm(&self) -> i32 {
        let s = self.x * self.x;
        s + self.y * self.y
    }
}

fn main() {
    let p = Point { x: 1, y: 2 };
    println!("{}", p.norm());
}
"""

JAVA = """\
package demo;

public class Greeter {
    private final String name;

    public Greeter(String name) {
        this.name = name;
        System.out.println(name);
    }

    public String greet() {
        String s = "Hello " + name;
        return s;
    }
}
"""


async def definitions(ctx: ToolContext, path: str) -> str:
    result = await ListCodeDefinitionNamesTool().run({"path": path}, ctx)
    assert not result.is_error, result.text_content
    return result.text_content


@pytest.mark.parametrize(
    ("name", "source", "expected"),
    [
        (
            "app.py",
            PYTHON,
            [
                "5--8 | def handler(event):",
                "11--18 | class Service(Base):",
                "12--15 |     def start(self):",
            ],
        ),
        (
            "app.js",
            JAVASCRIPT,
            [
                "1--4 | export function render(props) {",
                "6--9 | const helper = (a, b) => {",
                "11--16 | class Store {",
                "12--15 |   get(key) {",
            ],
        ),
        (
            "app.ts",
            TYPESCRIPT,
            [
                "1--4 | export interface User {",
                "10--15 | export class Repo {",
                "11--14 |   find(id: number): User {",
                "17--20 | enum Color {",
            ],
        ),
        (
            "main.go",
            GO,
            [
                "3--6 | type Server struct {",
                "8--11 | func (s *Server) Start() error {",
                "13--16 | func main() {",
            ],
        ),
        (
            "main.rs",
            RUST,
            [
                "1--4 | pub struct Point {",
                "6--11 | impl Point {",
                "7--10 |     pub fn norm(&self) -> i32 {",
                "13--16 | fn main() {",
            ],
        ),
        (
            "Greeter.java",
            JAVA,
            [
                "3--15 | public class Greeter {",
                "6--9 |     public Greeter(String name) {",
                "11--14 |     public String greet() {",
            ],
        ),
    ],
)
async def test_languages(
    tmp_path: Path, ctx: ToolContext, name: str, source: str, expected: list[str]
) -> None:
    (tmp_path / name).write_text(source)
    text = await definitions(ctx, name)
    assert text == f"# {name}\n" + "".join(f"{row}\n" for row in expected)


async def test_short_definitions_are_left_out(tmp_path: Path, ctx: ToolContext) -> None:
    (tmp_path / "a.py").write_text("def f():\n    return 1\n")
    assert await definitions(ctx, "a.py") == NO_DEFINITIONS


async def test_tsx(tmp_path: Path, ctx: ToolContext) -> None:
    source = "export function App() {\n  const a = 1;\n  return <div>{a}</div>;\n}\n"
    (tmp_path / "App.tsx").write_text(source)
    assert await definitions(ctx, "App.tsx") == "# App.tsx\n1--4 | export function App() {\n"


async def test_directory(tmp_path: Path, ctx: ToolContext) -> None:
    src = tmp_path / "src"
    (src / "nested").mkdir(parents=True)
    (src / "b.py").write_text(PYTHON)
    (src / "a.go").write_text(GO)
    (src / "notes.txt").write_text("class X:\n    pass\n    pass\n    pass\n")
    (src / "empty.py").write_text("x = 1\n")
    (src / "nested" / "deep.py").write_text(PYTHON)
    text = await definitions(ctx, "src")
    assert text.startswith("# a.go\n3--6 | type Server struct {\n")
    assert "\n\n# b.py\n5--8 | def handler(event):\n" in text
    assert "deep.py" not in text
    assert "empty.py" not in text
    assert "notes.txt" not in text


async def test_workspace_root_directory(tmp_path: Path, ctx: ToolContext) -> None:
    (tmp_path / "m.rs").write_text(RUST)
    assert (await definitions(ctx, ".")).startswith("# m.rs\n1--4 | pub struct Point {")


async def test_directory_caps_at_50_files(tmp_path: Path, ctx: ToolContext) -> None:
    for i in range(60):
        (tmp_path / f"f{i:02d}.py").write_text(PYTHON)
    result = await ListCodeDefinitionNamesTool().run({"path": "."}, ctx)
    assert result.text_content.count("# f") == MAX_DIRECTORY_FILES
    assert "# f49.py" in result.text_content
    assert "# f50.py" not in result.text_content


async def test_directory_without_definitions(tmp_path: Path, ctx: ToolContext) -> None:
    (tmp_path / "readme.txt").write_text("hello")
    assert await definitions(ctx, ".") == NO_DEFINITIONS


async def test_rooignore(tmp_path: Path) -> None:
    (tmp_path / "secret.py").write_text(PYTHON)
    (tmp_path / "open.py").write_text(PYTHON)
    ctx = make_context(tmp_path, ignore=PrefixIgnore("secret.py"))
    text = await definitions(ctx, ".")
    assert "# open.py" in text
    assert "secret" not in text
    refused = await ListCodeDefinitionNamesTool().run({"path": "secret.py"}, ctx)
    assert refused.is_error
    assert "Access blocked by .rooignore" in refused.text_content


async def test_missing_unsupported_and_escaping_paths(tmp_path: Path, ctx: ToolContext) -> None:
    missing = await definitions(ctx, "nope.py")
    assert missing == "This file does not exist or you do not have permission to access it."
    (tmp_path / "data.csv").write_text("a,b\n")
    assert await definitions(ctx, "data.csv") == "Unsupported file type: data.csv"
    escaping = await ListCodeDefinitionNamesTool().run({"path": "../x.py"}, ctx)
    assert escaping.is_error


async def test_symlink_out_of_the_workspace_is_refused(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (tmp_path / "outside.py").write_text(PYTHON)
    (workspace / "link.py").symlink_to(tmp_path / "outside.py")
    ctx = make_context(workspace)
    result = await ListCodeDefinitionNamesTool().run({"path": "link.py"}, ctx)
    assert result.is_error
    assert "handler" not in result.text_content
