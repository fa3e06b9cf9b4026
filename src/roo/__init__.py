"""roo-core: a multi-user service hosting a Roo-Code-style AI coding agent."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("roo-core")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"
