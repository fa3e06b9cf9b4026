"""A task's inbox: what the API hands to the process that runs the task when that is another
process (`roo serve --workers N`): an answer to the pending question, a message, a condense
request, a cancel.

The mail is typed (`AnswerMail`, `MessageMail`, `CondenseMail`, `CancelMail`: a union
discriminated by `kind`); the row (`tasks.inbox`) keeps the shape it always had, `{"answers":
{pendingId: {action, text}}, "messages": [...], "condense": true, "cancel": true}` with only
what is set, and NULL when empty (so `inbox IS NOT
NULL` finds the tasks with mail). `post` is the one writer (the API's side, in its unit of work),
`take` the one reader (the running process's poll, `roo.tasks.liveness`), which empties it.
Anything else in a row (an unknown key, an unknown action) is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from roo.db.models import Task

Action = Literal["approve", "approve_always", "deny", "answer"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AnswerMail(_Strict):
    """The answer to the question `approval_id` (the task's `pending.id`)."""

    kind: Literal["answer"] = "answer"
    approval_id: str
    action: Action
    text: str | None = None


class MessageMail(_Strict):
    """A message for the next user turn."""

    kind: Literal["message"] = "message"
    text: str


class CondenseMail(_Strict):
    """Condense the context before the next model request."""

    kind: Literal["condense"] = "condense"


class CancelMail(_Strict):
    kind: Literal["cancel"] = "cancel"


AnyMail = AnswerMail | MessageMail | CondenseMail | CancelMail
Mail = Annotated[AnyMail, Field(discriminator="kind")]
MAIL: TypeAdapter[AnyMail] = TypeAdapter(Mail)


class StoredAnswer(_Strict):
    action: Action
    text: str | None = None


class Inbox(_Strict):
    """The mail of one task, as its row stores it."""

    answers: dict[str, StoredAnswer] = Field(default_factory=dict)
    messages: list[str] = Field(default_factory=list)
    condense: bool = False
    cancel: bool = False

    @classmethod
    def load(cls, raw: Mapping[str, Any] | None) -> Inbox:
        """The inbox of a row (None: empty). Raises pydantic's ValidationError on anything
        this version does not know."""
        return cls.model_validate(raw or {})

    def dump(self) -> dict[str, Any] | None:
        """The row's value: what is set, None when nothing is."""
        return self.model_dump(exclude_defaults=True) or None

    def post(self, mail: AnyMail) -> Inbox:
        """This inbox with `mail` added."""
        if isinstance(mail, AnswerMail):
            answer = StoredAnswer(action=mail.action, text=mail.text)
            return self.model_copy(update={"answers": {**self.answers, mail.approval_id: answer}})
        if isinstance(mail, MessageMail):
            return self.model_copy(update={"messages": [*self.messages, mail.text]})
        if isinstance(mail, CondenseMail):
            return self.model_copy(update={"condense": True})
        return self.model_copy(update={"cancel": True})

    def mail(self) -> list[AnyMail]:
        """The mail in the order a run takes it: messages, answers, condense, then cancel."""
        items: list[AnyMail] = [MessageMail(text=text) for text in self.messages]
        items += [
            AnswerMail(approval_id=approval_id, action=a.action, text=a.text)
            for approval_id, a in self.answers.items()
        ]
        if self.condense:
            items.append(CondenseMail())
        if self.cancel:
            items.append(CancelMail())
        return items

    def answer_to(self, approval_id: str | None) -> AnswerMail | None:
        """The answer left for the question `approval_id`, if any (others are stale)."""
        if approval_id is None or approval_id not in self.answers:
            return None
        given = self.answers[approval_id]
        return AnswerMail(approval_id=approval_id, action=given.action, text=given.text)


def post(task: Task, mail: AnyMail) -> None:
    """Leave `mail` in the task's inbox (the row is written with the caller's unit of work)."""
    task.inbox = Inbox.load(task.inbox).post(mail).dump()


def take(task: Task) -> Inbox:
    """The task's mail, emptied from its row (with the caller's unit of work). A row this
    version cannot read is emptied too, and raises."""
    raw, task.inbox = task.inbox, None
    return Inbox.load(raw)


def clear(task: Task) -> None:
    """Drop what was left for an earlier run of the task."""
    task.inbox = None
