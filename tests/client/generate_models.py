"""Generate `src/roo/client/models.py` from the service's OpenAPI document.

    .venv/bin/python -m tests.client.generate_models          # write it
    .venv/bin/python -m tests.client.generate_models --check  # exit 1 if it is not current

The client's models are generated (datamodel-code-generator, a dev-time tool) rather than
written by hand, so that they cannot disagree with the routes' schemas; the output is committed
(users of `roo.client` need neither the generator nor the server), and
`tests/client/test_drift.py` regenerates it and fails when it differs. The document is built by
`create_app(Settings()).openapi()`, with no environment of the machine's, so it is the same
everywhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "src" / "roo" / "client" / "models.py"
BIN = Path(sys.executable).parent

HEADER = '''\
"""The API's request and response models, generated from its OpenAPI document.

Do not edit: regenerate with `.venv/bin/python -m tests.client.generate_models` (see
docs/client.md, "Models"); `tests/client/test_drift.py` fails when this file is not what the
current document generates.
"""'''

OPTIONS = [
    "--input-file-type", "openapi",
    "--output-model-type", "pydantic_v2.BaseModel",
    "--target-python-version", "3.11",
    "--use-annotated",
    "--use-standard-collections",
    "--use-union-operator",
    "--field-constraints",
    "--snake-case-field",
    "--allow-population-by-field-name",
    "--disable-timestamp",
    "--use-schema-description",
    "--enum-field-as-literal", "all",
    "--formatters", "ruff-check",
]  # fmt: skip


def openapi_document() -> dict[str, Any]:
    """The document as the app serves it at /api/v1/openapi.json."""
    from roo.app import create_app
    from roo.config import Settings

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    document: dict[str, Any] = create_app(settings).openapi()
    return document


def generate() -> str:
    """The text of models.py for the current document."""
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "openapi.json", Path(tmp) / "models.py"
        source.write_text(json.dumps(openapi_document(), indent=1, sort_keys=True))
        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        subprocess.run(
            [
                str(BIN / "datamodel-codegen"), "--input", str(source), "--output", str(target),
                "--custom-file-header", HEADER, *OPTIONS,
            ],
            check=True, cwd=ROOT, env=env, capture_output=True,
        )  # fmt: skip
        # formatted as `make lint` wants it (the project's line length)
        subprocess.run(
            [str(BIN / "ruff"), "format", "--config", str(ROOT / "pyproject.toml"), str(target)],
            check=True, cwd=ROOT, capture_output=True,
        )  # fmt: skip
        return target.read_text()


def main(argv: list[str]) -> int:
    text = generate()
    if "--check" in argv:
        current = MODELS.read_text() if MODELS.exists() else ""
        if current != text:
            print(f"{MODELS.relative_to(ROOT)} is not current: regenerate it", file=sys.stderr)  # noqa: T201
            return 1
        return 0
    MODELS.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
