#!/usr/bin/env python3
"""Run a task with roo's Python SDK (`roo.client`, docs/client.md), from sign-in to its result.

Signs in, creates a session whose every tool call asks first, uploads a file, starts a task,
follows its events live (WebSocket, SSE when a proxy refuses WebSockets; resuming from the last
event after a dropped connection), answers each approval by a policy, and downloads the file the
task wrote.

    python examples/api_client.py --url http://127.0.0.1:3000 --email me@example.com \\
        --password '...' --upload notes.txt --task "Summarise notes.txt into summary.md" \\
        --result summary.md --output summary.md

The policy (`--policy`, default `read,write`): reading files (read_file, list_files,
search_files, list_code_definition_names) is approved with `read`, edits (write_to_file,
apply_diff, insert_content, search_and_replace) with `write`, commands with `commands`;
anything else is denied with a reason the model reads. A question the model asks is answered
with its first suggestion. `ROO_PASSWORD` may stand for `--password`; `--api-key` (or
`ROO_API_KEY`) instead of signing in. `--register` creates the account first (when the service
allows registration).

Exit codes: 0 the task completed (and the result was downloaded), 1 it failed, was cancelled
or interrupted, 2 the service refused a request (the problem's title and detail are printed).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from contextlib import aclosing
from pathlib import Path
from typing import Any

from roo.client import AsyncRooClient, RooApiError, StreamRefused
from roo.client.models import EventOut

READS = {"read_file", "list_files", "search_files", "list_code_definition_names"}
WRITES = {"write_to_file", "apply_diff", "insert_content", "search_and_replace"}
COMMANDS = {"execute_command"}
ENDS = {"task.complete": 0, "error.occurred": 1, "task.cancelled": 1, "task.interrupted": 1}
# Every kind of call asks: the policy below decides, not the service's auto-approval
ASK_FIRST = {
    "approvalPolicy": {
        "autoApproveRead": False,
        "autoApproveWrite": False,
        "autoApproveExecute": False,
    }
}


def decide(data: dict[str, Any], allowed: set[str]) -> tuple[str, str | None]:
    """("approve" | "deny" | "answer", text) for an `approval.required` event's data."""
    if data["kind"] in ("followup", "mistake_limit"):
        suggestions = [s.get("text", "") for s in data.get("suggestions") or []]
        return "answer", suggestions[0] if suggestions else "Go on as you think best."
    tool = data.get("tool") or ""
    group = "read" if tool in READS else "write" if tool in WRITES else "commands"
    if tool in READS | WRITES | COMMANDS and group in allowed:
        return "approve", None
    return "deny", f"The policy of this client does not allow {tool or data['kind']}."


async def run(args: argparse.Namespace) -> int:
    allowed = {p.strip() for p in args.policy.split(",") if p.strip()}
    async with AsyncRooClient(args.url, api_key=args.api_key) as roo:
        if not args.api_key:
            if args.register:
                await roo.register(args.email, args.password)
            await roo.login(args.email, args.password)
        session = await roo.create_session(args.session_name, config=ASK_FIRST)
        print(f"session {session.id}")
        for local in args.upload:
            path = Path(local)
            content = await asyncio.to_thread(path.read_bytes)
            info = await roo.upload_file(session.id, path.name, content)
            print(f"uploaded {info.path} ({info.size} bytes)")
        task = await roo.create_task(session.id, args.task)
        print(f"task {task.id}")
        outcome = await follow(roo, session.id, task.id, allowed)
        if outcome != 0:
            return outcome
        if args.result:
            download = await roo.download_file(session.id, args.result)
            target = Path(args.output or Path(args.result).name)
            await asyncio.to_thread(target.write_bytes, download.content)
            print(f"downloaded {args.result} to {target} ({len(download.content)} bytes)")
        return 0


async def follow(roo: AsyncRooClient, session_id: Any, task_id: Any, allowed: set[str]) -> int:
    """Show the task's events and answer its approvals until its run ends."""
    # aclosing: leaving the loop early closes the stream's connection at once
    async with aclosing(roo.follow(session_id)) as events:
        async for event in events:
            if event.task_id != task_id:
                continue
            show(event)
            if event.event == "approval.required":
                action, text = decide(event.data, allowed)
                print(f"  -> {action}" + (f": {text}" if text else ""))
                approval = event.data["approvalId"]
                if action == "approve":
                    await roo.approve(session_id, task_id, approval)
                elif action == "deny":
                    await roo.deny(session_id, task_id, approval, feedback=text)
                else:
                    await roo.answer(session_id, task_id, text or "", approval)
            if event.event in ENDS:
                return ENDS[event.event]
    return 1


def show(event: EventOut) -> None:
    data = event.data
    if event.event == "message" and data.get("kind") == "text":
        print(data.get("delta", ""), end="", flush=True)
    elif event.event == "tool.execution" and data.get("phase") == "start":
        print(f"\n> {data.get('tool')}({data.get('params')})")
    elif event.event == "approval.required":
        print(f"\n? {data['kind']}: {data.get('tool')} {data.get('params') or data.get('text')}")
    elif event.event == "task.complete":
        print(f"\ncompleted: {data.get('result')}")
    elif event.event in ENDS:
        print(f"\n{event.event}: {data.get('reason')} {data.get('message') or ''}")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--url", default=os.environ.get("ROO_URL", "http://127.0.0.1:3000"))
    parser.add_argument("--email", default=os.environ.get("ROO_EMAIL"))
    parser.add_argument("--password", default=os.environ.get("ROO_PASSWORD"))
    parser.add_argument("--api-key", default=os.environ.get("ROO_API_KEY"))
    parser.add_argument("--register", action="store_true", help="create the account first")
    parser.add_argument("--session-name", default="api_client example")
    parser.add_argument("--upload", action="append", default=[], help="a local file (repeat)")
    parser.add_argument("--task", required=True, help="what the agent is asked to do")
    parser.add_argument("--result", help="a workspace file to download once the task completed")
    parser.add_argument("--output", help="where to write it (default: its name, here)")
    parser.add_argument("--policy", default="read,write", help="read,write,commands: approved")
    args = parser.parse_args(argv)
    if not args.api_key and not (args.email and args.password):
        parser.error("sign in with --email and --password (or ROO_PASSWORD), or --api-key")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        return asyncio.run(run(args))
    except RooApiError as error:
        print(f"refused: {error}", file=sys.stderr)
        return 2
    except StreamRefused as refused:
        print(f"the event stream was refused: {refused}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
