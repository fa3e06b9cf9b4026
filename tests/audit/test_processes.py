"""Several processes on one database, as `roo serve --workers N` runs them: each writes audit
rows and seals while the others do, and the chain stays whole; and `roo audit verify`, run as
the real command, exits 0 on an intact chain and 1 naming the first bad position."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from roo.security.audit_chain import AuditSealer
from roo.security.audit_verify import verify_chain
from tests.audit.test_chain import write_rows

ROO = str(Path(sys.executable).parent / "roo")

WRITER = """
import asyncio, sys
from roo.config import load_settings
from roo.db.engine import create_engine, create_session_factory
from roo.security.audit import AuditWriter
from roo.security.audit_chain import AuditSealer

async def main(url, name, rows):
    engine = create_engine(load_settings(env="test", database_url=url))
    writer = AuditWriter(create_session_factory(engine))
    sealer = AuditSealer(engine, batch=3)
    for i in range(rows):
        await writer.write("test.process", target=name, i=i)
        if i % 2:
            await sealer.seal_all()
    await sealer.seal_all()
    await engine.dispose()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


def env_for(url: str, tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    return {**base, "DATABASE_URL": url, "ROO_ENV": "test", "ROO_DATA_DIR": str(tmp_path)}


async def test_processes_writing_and_sealing_at_once_keep_one_chain(
    chain_url: str, chain_engine: AsyncEngine, tmp_path: Path
) -> None:
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WRITER,
            chain_url,
            f"process:{n}",
            "30",
            env=env_for(chain_url, tmp_path),
            stderr=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
        )
        for n in range(3)
    ]
    sealer = AuditSealer(chain_engine, batch=5)
    while any(p.returncode is None for p in processes):
        await sealer.seal_all()
        await asyncio.sleep(0.01)
    for p in processes:
        _out, err = await p.communicate()
        assert p.returncode == 0, err.decode()
    report = await verify_chain(chain_engine)
    assert report.ok, report
    assert (report.checked, report.unsealed) == (90, 0)


def roo(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ROO, *args], env=env, capture_output=True, text=True, timeout=120)


async def test_cli_verify_exit_codes(
    chain_url: str, chain_engine: AsyncEngine, tmp_path: Path
) -> None:
    env = env_for(chain_url, tmp_path)
    await write_rows(chain_engine, 6)
    # Unsealed rows are not a broken chain; --seal seals them first
    first = await asyncio.to_thread(roo, "audit", "verify", env=env)
    assert first.returncode == 0, first.stderr
    assert "6 not sealed yet" in first.stdout
    sealed = await asyncio.to_thread(roo, "audit", "verify", "--seal", env=env)
    assert sealed.returncode == 0, sealed.stderr
    assert "sealed 6 rows" in sealed.stdout
    assert "audit chain intact: 6 rows" in sealed.stdout
    async with chain_engine.begin() as conn:
        await conn.execute(text("UPDATE audit_events SET target = 'x' WHERE chain_seq = 3"))
    broken = await asyncio.to_thread(roo, "audit", "verify", env=env)
    assert broken.returncode == 1
    assert "audit chain broken at position 3" in broken.stderr
