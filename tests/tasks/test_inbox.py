"""The typed inbox (`roo.tasks.inbox`): mail in and out of the row's stored shape, and what it
refuses."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from roo.db.models import Task
from roo.tasks import inbox
from roo.tasks.inbox import MAIL, AnswerMail, CancelMail, CondenseMail, Inbox, MessageMail


def test_mail_round_trips_through_the_row() -> None:
    task = Task(id=uuid.uuid4())
    inbox.post(task, MessageMail(text="one"))
    inbox.post(task, AnswerMail(approval_id="q1", action="approve", text="fine"))
    inbox.post(task, MessageMail(text="two"))
    inbox.post(task, CancelMail())
    # the row keeps the shape older processes read and write
    assert task.inbox == {
        "answers": {"q1": {"action": "approve", "text": "fine"}},
        "messages": ["one", "two"],
        "cancel": True,
    }
    box = inbox.take(task)
    assert task.inbox is None  # emptied to SQL NULL: no mail left
    assert box.mail() == [
        MessageMail(text="one"),
        MessageMail(text="two"),
        AnswerMail(approval_id="q1", action="approve", text="fine"),
        CancelMail(),
    ]
    assert box.answer_to("q1") == AnswerMail(approval_id="q1", action="approve", text="fine")
    assert box.answer_to("q2") is None
    assert box.answer_to(None) is None


def test_a_condense_request_round_trips_once() -> None:
    task = Task(id=uuid.uuid4())
    inbox.post(task, CondenseMail())
    inbox.post(task, MessageMail(text="m"))
    inbox.post(task, CondenseMail())  # asked twice: one condense

    assert task.inbox == {"messages": ["m"], "condense": True}
    assert inbox.take(task).mail() == [MessageMail(text="m"), CondenseMail()]
    assert MAIL.validate_python({"kind": "condense"}) == CondenseMail()


def test_an_empty_inbox_is_null_and_rows_of_older_processes_read() -> None:
    assert Inbox().dump() is None
    assert Inbox.load(None) == Inbox()
    old = {"answers": {"q": {"action": "deny", "text": None}}, "messages": ["m"]}
    assert Inbox.load(old).mail() == [
        MessageMail(text="m"),
        AnswerMail(approval_id="q", action="deny"),
    ]


def test_each_mail_kind_parses_from_its_dict() -> None:
    for mail in (MessageMail(text="x"), AnswerMail(approval_id="q", action="answer"), CancelMail()):
        assert MAIL.validate_python(mail.model_dump()) == mail


@pytest.mark.parametrize(
    "raw",
    [
        {"kind": "wake_up"},
        {"text": "no kind"},
        {"kind": "answer", "approval_id": "q", "action": "explode"},
        {"kind": "message", "text": "x", "extra": 1},
    ],
)
def test_unknown_mail_is_refused(raw: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        MAIL.validate_python(raw)


@pytest.mark.parametrize(
    "row",
    [
        {"wake": True},
        {"answers": {"q": {"action": "explode"}}},
        {"messages": "not a list"},
    ],
)
def test_a_row_this_version_cannot_read_is_refused(row: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Inbox.load(row)
    task = Task(id=uuid.uuid4(), inbox=row)
    with pytest.raises(ValidationError):
        inbox.take(task)
    assert task.inbox is None  # emptied all the same: it would fail every poll
