# -*- test-case-name: tests.agi.test_store_answers -*-
"""
Answers and IVR sessions: C{thd_*} functions run on L{dialer.store.pool.DBThreadPool}.

Every answer is its own short transaction, written the moment it is given, so a
hang-up (or a crash) after question 3 keeps answers 1-3. Never log an answer's
content; log ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from dialer.store.schema import answers, attempts, campaigns, ivr_sessions, units


@dataclass(frozen=True)
class AttemptContext:
    """What the IVR runner needs to know about the attempt its call belongs to."""

    attempt_id: int
    campaign_id: int
    contact_id: int
    unit_id: int
    unit_code: str
    questionnaire: str  # campaigns.questionnaire: an ivr_scripts/ file name
    attempt_no: int


@dataclass(frozen=True)
class NewAnswer:
    """One answer as the runner (or the agent desktop) hands it over."""

    attempt_id: int
    campaign_id: int
    contact_id: int
    block: str
    question: str
    answered_at: float
    unit_code: str | None = None  # the unit the question is about; resolved to units.id
    code: int | None = None
    key: str | None = None
    value: str | None = None
    tries: int = 1
    mode: str = "ivr"
    language: str | None = None


@dataclass(frozen=True)
class Answer:
    """A stored answer."""

    id: int
    attempt_id: int
    campaign_id: int
    contact_id: int
    unit_id: int | None
    block: str
    question: str
    code: int | None
    key: str | None
    value: str | None
    answered_at: float
    tries: int
    mode: str
    language: str | None


@dataclass(frozen=True)
class IvrSession:
    """A stored IVR session (see the C{ivr_sessions} table)."""

    id: int
    attempt_id: int
    uniqueid: str | None
    questionnaire: str
    language: str | None
    started_at: float
    ended_at: float | None
    result: str | None
    end_reason: str | None
    answered: int
    asked: int


def thd_attempt_context(conn: sa.Connection, attempt_id: int) -> AttemptContext | None:
    """The campaign, contact, unit and questionnaire of an attempt, or None if unknown."""
    row = conn.execute(
        sa.select(
            attempts.c.id.label("attempt_id"),
            attempts.c.campaign_id,
            attempts.c.contact_id,
            attempts.c.unit_id,
            units.c.code.label("unit_code"),
            campaigns.c.questionnaire,
            attempts.c.attempt_no,
        )
        .select_from(
            attempts.join(units, units.c.id == attempts.c.unit_id).join(
                campaigns, campaigns.c.id == attempts.c.campaign_id
            )
        )
        .where(attempts.c.id == attempt_id)
    ).first()
    if row is None:
        return None
    return AttemptContext(**row._mapping)


def thd_start_ivr_session(
    conn: sa.Connection,
    attempt_id: int,
    questionnaire: str,
    started_at: float,
    *,
    uniqueid: str | None = None,
    language: str | None = None,
) -> int:
    """Open an IVR session for an attempt; its id."""
    session_id = conn.execute(
        ivr_sessions.insert().values(
            attempt_id=attempt_id,
            uniqueid=uniqueid,
            questionnaire=questionnaire,
            language=language,
            started_at=started_at,
            answered=0,
            asked=0,
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    return int(session_id)


def thd_open_ivr_session(
    conn: sa.Connection,
    attempt_id: int,
    started_at: float,
    *,
    uniqueid: str | None = None,
    language: str | None = None,
) -> tuple[AttemptContext, int] | None:
    """The attempt's context and a new IVR session for it, in one go; None if no such attempt."""
    context = thd_attempt_context(conn, attempt_id)
    if context is None:
        return None
    session_id = thd_start_ivr_session(
        conn, attempt_id, context.questionnaire, started_at, uniqueid=uniqueid, language=language
    )
    return context, session_id


def thd_record_answer(conn: sa.Connection, answer: NewAnswer) -> int:
    """Store one answer; returns its id. C{unit_code} is resolved to C{units.id} here."""
    unit_id: sa.ScalarSelect[int] | None = None
    if answer.unit_code is not None:
        unit_id = sa.select(units.c.id).where(units.c.code == answer.unit_code).scalar_subquery()
    result = conn.execute(
        answers.insert().values(
            attempt_id=answer.attempt_id,
            campaign_id=answer.campaign_id,
            contact_id=answer.contact_id,
            unit_id=unit_id,
            block=answer.block,
            question=answer.question,
            code=answer.code,
            key=answer.key,
            value=answer.value,
            answered_at=answer.answered_at,
            tries=answer.tries,
            mode=answer.mode,
            language=answer.language,
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def thd_record_answers(conn: sa.Connection, batch: list[NewAnswer]) -> list[int]:
    """Store several answers in one transaction (group commit); their ids, in order."""
    return [thd_record_answer(conn, answer) for answer in batch]


@dataclass(frozen=True)
class SessionStart:
    """A request to open an IVR session (see L{thd_open_ivr_sessions})."""

    attempt_id: int
    started_at: float
    uniqueid: str | None = None


def thd_open_ivr_sessions(
    conn: sa.Connection, batch: list[SessionStart]
) -> list[tuple[AttemptContext, int] | None]:
    """L{thd_open_ivr_session} for several calls in one transaction, results in order."""
    return [
        thd_open_ivr_session(conn, s.attempt_id, s.started_at, uniqueid=s.uniqueid) for s in batch
    ]


@dataclass(frozen=True)
class SessionEnd:
    """How an IVR session ended (the arguments of L{thd_finish_ivr_session})."""

    session_id: int
    ended_at: float
    result: str | None
    end_reason: str
    answered: int = 0
    asked: int = 0
    outcome: str | None = None
    disposition: str | None = None
    language: str | None = None


def thd_finish_ivr_sessions(conn: sa.Connection, batch: list[SessionEnd]) -> list[None]:
    """L{thd_finish_ivr_session} for several sessions in one transaction."""
    for end in batch:
        thd_finish_ivr_session(
            conn,
            end.session_id,
            end.ended_at,
            result=end.result,
            end_reason=end.end_reason,
            answered=end.answered,
            asked=end.asked,
            outcome=end.outcome,
            disposition=end.disposition,
            language=end.language,
        )
    return [None] * len(batch)


def thd_finish_ivr_session(
    conn: sa.Connection,
    session_id: int,
    ended_at: float,
    *,
    result: str | None,
    end_reason: str,
    answered: int = 0,
    asked: int = 0,
    outcome: str | None = None,
    disposition: str | None = None,
    language: str | None = None,
) -> None:
    """Close an IVR session; with an C{outcome}, also mark its attempt (name + AAPOR code, mode ivr).

    C{outcome} is a L{dialer.campaign.dispositions.OUTCOMES} name (C{partial},
    C{breakoff}, ...) and C{disposition} its AAPOR code (C{1.2}, C{2.12}, ...).
    """
    values: dict[str, object] = {
        "ended_at": ended_at,
        "result": result,
        "end_reason": end_reason,
        "answered": answered,
        "asked": asked,
    }
    if language is not None:
        values["language"] = language
    conn.execute(ivr_sessions.update().where(ivr_sessions.c.id == session_id).values(**values))
    if outcome is not None:
        attempt_id = sa.select(ivr_sessions.c.attempt_id).where(ivr_sessions.c.id == session_id)
        conn.execute(
            attempts.update()
            .where(attempts.c.id == attempt_id.scalar_subquery())
            .values(outcome=outcome, disposition=disposition, mode="ivr")
        )


def thd_answers(conn: sa.Connection, attempt_id: int) -> list[Answer]:
    """The answers of an attempt, in the order they were given."""
    rows = conn.execute(
        sa.select(
            answers.c.id,
            answers.c.attempt_id,
            answers.c.campaign_id,
            answers.c.contact_id,
            answers.c.unit_id,
            answers.c.block,
            answers.c.question,
            answers.c.code,
            answers.c.key,
            answers.c.value,
            answers.c.answered_at,
            answers.c.tries,
            answers.c.mode,
            answers.c.language,
        )
        .where(answers.c.attempt_id == attempt_id)
        .order_by(answers.c.answered_at, answers.c.id)
    ).all()
    return [Answer(**row._mapping) for row in rows]


def thd_ivr_session(conn: sa.Connection, attempt_id: int) -> IvrSession | None:
    """The latest IVR session of an attempt (what the controller reads to classify it)."""
    row = conn.execute(
        sa.select(
            ivr_sessions.c.id,
            ivr_sessions.c.attempt_id,
            ivr_sessions.c.uniqueid,
            ivr_sessions.c.questionnaire,
            ivr_sessions.c.language,
            ivr_sessions.c.started_at,
            ivr_sessions.c.ended_at,
            ivr_sessions.c.result,
            ivr_sessions.c.end_reason,
            ivr_sessions.c.answered,
            ivr_sessions.c.asked,
        )
        .where(ivr_sessions.c.attempt_id == attempt_id)
        .order_by(ivr_sessions.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else IvrSession(**row._mapping)
