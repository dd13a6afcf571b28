# -*- test-case-name: tests.agi.test_runner -*-
"""
The IVR survey runner: one C{async def} over one AGI session, driving the pure
L{dialer.surveys.flow} state machine with AGI commands.

What the runner needs to know comes from the channel. The dialplan (or the
Originate's C{Variable:} headers) sets:

 - C{MINYI_ATTEMPT} (required): the C{attempts.id} this call belongs to (the campaign
   controller's Originate sets it). The campaign, contact, the contact's unit and the
   questionnaire are read from the store;
 - C{MINYI_LANGUAGE} (optional): a language of the questionnaire, e.g. C{en};
   default: its first language (zh-CN).

Both may instead be passed as C{key=value} AGI arguments, which are read first and
save a round trip each: C{AGI(agi://127.0.0.1:4573/survey,attempt=42,language=en)}.
Otherwise the runner asks for both in one round trip:
C{GET FULL VARIABLE "${MINYI_ATTEMPT}|${MINYI_LANGUAGE}"}.

When the questionnaire ends the runner publishes L{dialer.events.SurveyFinished} (keyed
by C{agi_uniqueid}, which is the ChannelId the controller gave Originate) on the event
bus, so the campaign controller can classify the attempt.

How steps become commands:

 - Play: C{STREAM FILE <sound> "<escape>"} per sound file; a key stops it;
 - Collect: every sound but the last with C{STREAM FILE} (the meaningful keys escape),
   the last with C{GET DATA <sound> <timeout ms> <max digits>} (digits come back as
   themselves; C{result= (timeout)} is no input; an empty result without C{(timeout)}
   means C{#} ended the input). A key pressed during an earlier sound is followed by
   C{WAIT FOR DIGIT} for the rest (ASCII codes, C{result=0} on timeout);
 - Record: the prompt, then C{RECORD FILE <path> wav "#" <ms> BEEP s=<silence>}:
   ends on C{#}, on silence or at the maximum length; its length is C{endpos}/8000 s
   (ended by silence at about 1 s, the one second Asterisk keeps: nothing was said);
 - Answer: written to the store at once (its own transaction), then the flow goes on.

A caller hang-up (the C{HANGUP} line, a 511 reply, C{result=-1} from a playback that
had started) ends the flow cleanly: the answers already written stay, and the session
and the attempt are marked with the flow's AAPOR outcome (partial / break-off ...).
A command timeout or a malformed stream ends it the same way with another
C{end_reason}. The protocol closes the socket when the runner returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import sqlalchemy as sa
from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

from dialer.agi import replies
from dialer.agi.protocol import Clock, FastAGIProtocol
from dialer.agi.replies import (
    AGIError,
    CallHungUp,
    CommandTimeout,
    MalformedStream,
    SessionClosed,
)
from dialer.campaign.dispositions import OUTCOMES, survey_result
from dialer.events import EventBus, SurveyFinished
from dialer.store.answers import (
    AttemptContext,
    NewAnswer,
    SessionEnd,
    SessionStart,
    thd_finish_ivr_sessions,
    thd_open_ivr_sessions,
    thd_record_answers,
)
from dialer.store.engine import is_sqlite
from dialer.store.pool import DBThreadPool
from dialer.surveys import flow
from dialer.surveys.model import Script

T = TypeVar("T")
R = TypeVar("R")

ATTEMPT_VARIABLE = "MINYI_ATTEMPT"
LANGUAGE_VARIABLE = "MINYI_LANGUAGE"
SAMPLE_RATE = 8000  # RECORD FILE endpos counts 8 kHz samples
#: A recording ended by silence keeps one second of it (res_agi rewinds silence - 1000 ms),
#: so a caller who said nothing leaves a file of about 1 s: not a comment.
SILENT_RECORDING_SECONDS = 1.1


# ---------------------------------------------------------------------------
# Seams: the store and the questionnaires
# ---------------------------------------------------------------------------


class AnswerStore(Protocol):
    """Where the runner writes; L{PoolAnswerStore} is the real one."""

    def open_session(
        self, attempt_id: int, started_at: float, uniqueid: str | None
    ) -> defer.Deferred[tuple[AttemptContext, int] | None]: ...

    def record_answer(self, answer: NewAnswer) -> defer.Deferred[int]: ...

    def finish_session(
        self,
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
    ) -> defer.Deferred[None]: ...


class GroupCommit(Generic[T, R]):
    """At most C{in_flight} transactions at once; items submitted meanwhile share the next one.

    C{thd_many(conn, items) -> results} runs on the pool in one transaction. Each
    item's Deferred fires only after the transaction holding it committed (or fails
    with it), so nothing is acknowledged early, while a burst (a thousand callers
    pressing a key in the same second) costs a few commits instead of a thousand.
    """

    def __init__(
        self,
        pool: DBThreadPool,
        thd_many: Callable[[sa.Connection, list[T]], list[R]],
        in_flight: int = 1,
    ) -> None:
        self.pool = pool
        self.thd_many = thd_many
        self.in_flight = in_flight
        self._waiting: list[tuple[T, defer.Deferred[R]]] = []
        self._writing = 0

    def submit(self, item: T) -> defer.Deferred[R]:
        d: defer.Deferred[R] = defer.Deferred()
        self._waiting.append((item, d))
        if self._writing < self.in_flight:
            self._write()
        return d

    def _write(self) -> None:
        batch, self._waiting = self._waiting, []
        self._writing += 1
        written = self.pool.do_with_transaction(self.thd_many, [item for item, _ in batch])

        def stored(results: list[R]) -> None:
            for (_, d), result in zip(batch, results, strict=True):
                d.callback(result)

        def failed(failure: Failure) -> None:
            for _, d in batch:
                d.errback(failure)

        def next_batch(_: object) -> None:
            self._writing -= 1
            if self._waiting:
                self._write()

        written.addCallbacks(stored, failed)
        written.addBoth(next_batch)


class PoolAnswerStore:
    """L{AnswerStore} on the database thread pool (the C{thd_*} functions of answers.py).

    Opening sessions, answers and session ends are each group-committed
    (L{GroupCommit}), so a burst of calls queues a few transactions, not thousands.
    """

    def __init__(self, pool: DBThreadPool) -> None:
        self.pool = pool
        # SQLite has one writer (and one pool thread); PostgreSQL commits in parallel.
        writers = 1 if is_sqlite(pool.engine.url) else 2
        self._opens = GroupCommit(pool, thd_open_ivr_sessions, writers)
        self._answers = GroupCommit(pool, thd_record_answers, writers)
        self._ends = GroupCommit(pool, thd_finish_ivr_sessions, writers)

    def open_session(
        self, attempt_id: int, started_at: float, uniqueid: str | None
    ) -> defer.Deferred[tuple[AttemptContext, int] | None]:
        return self._opens.submit(SessionStart(attempt_id, started_at, uniqueid))

    def record_answer(self, answer: NewAnswer) -> defer.Deferred[int]:
        return self._answers.submit(answer)

    def finish_session(
        self,
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
    ) -> defer.Deferred[None]:
        end = SessionEnd(
            session_id,
            ended_at,
            result,
            end_reason,
            answered,
            asked,
            outcome,
            disposition,
            language,
        )
        return self._ends.submit(end)


class ScriptDirectory:
    """Questionnaires by the name stored in C{campaigns.questionnaire}, loaded once each."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[str, Script] = {}

    def __call__(self, name: str) -> Script:
        script = self._cache.get(name)
        if script is None:
            from dialer.surveys import loader

            path = self.root / name
            if not path.suffix:
                path = path.with_suffix(".yaml")
            script = loader.load(path)
            self._cache[name] = script
        return script


# ---------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------


def parse_args(args: tuple[str, ...]) -> dict[str, str]:
    """C{key=value} AGI arguments (keys lower-cased); other arguments are ignored."""
    out: dict[str, str] = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if sep and key.strip():
            out[key.strip().lower()] = value.strip()
    return out


def _command_timeout_for_prompt(config: RunnerConfig, extra: float) -> float:
    return config.max_prompt_seconds + extra + config.slack_seconds


@dataclass(frozen=True)
class RunnerConfig:
    """Knobs of the runner; paths are as Asterisk sees them."""

    #: Where RECORD FILE writes voice comments (on the Asterisk host).
    recordings_dir: str = "/var/spool/asterisk/minyi"
    record_format: str = "wav"
    #: Longest prompt we expect to play: bounds the STREAM FILE / GET DATA timeouts.
    max_prompt_seconds: float = 120.0
    #: Added to every computed command timeout.
    slack_seconds: float = 5.0


@dataclass(frozen=True)
class RunResult:
    """How a session ended (returned by the runner; the protocol ignores it)."""

    #: completed | hangup | timeout | malformed | error | store_error | unidentified
    end_reason: str
    outcome: str | None = None  # SurveyResult value
    aapor: str | None = None
    answered: int = 0
    applicable: int = 0
    attempt_id: int | None = None


# ---------------------------------------------------------------------------
# The runner
# ---------------------------------------------------------------------------


class SurveyRunner:
    """A FastAGI session function: C{factory scripts={"survey": SurveyRunner(...)}}."""

    log = Logger()

    def __init__(
        self,
        store: AnswerStore,
        scripts: Callable[[str], Script],
        clock: Clock,
        config: RunnerConfig | None = None,
        *,
        bus: EventBus | None = None,
        answer_written: Callable[[float], None] | None = None,
    ) -> None:
        self.store = store
        self.scripts = scripts
        self.clock = clock
        self.config = config or RunnerConfig()
        self.bus = bus
        self._answer_written = answer_written

    async def __call__(self, agi: FastAGIProtocol) -> RunResult:
        return await _Session(self, agi).run()


class _Session:
    """One call: identify it, run the flow, keep the store up to date."""

    log = Logger()

    def __init__(self, runner: SurveyRunner, agi: FastAGIProtocol) -> None:
        assert agi.env is not None
        self.runner = runner
        self.agi = agi
        self.env = agi.env
        self.config = runner.config
        self.clock = runner.clock
        self.uniqueid = self.env.get("uniqueid") or None
        self.context: AttemptContext | None = None
        self.language: str | None = None
        self.event_at = 0.0

    async def run(self) -> RunResult:
        try:
            ids = await self._identify()
        except AGIError as error:
            return RunResult(end_reason=_end_reason(error))
        if ids is None:
            return RunResult(end_reason="unidentified")
        attempt_id, language = ids
        store = self.runner.store
        opened = await store.open_session(attempt_id, self.clock.seconds(), self.uniqueid)
        if opened is None:
            self.log.error(
                "IVR {uniqueid}: attempt {attempt} is not in the store",
                uniqueid=self.uniqueid,
                attempt=attempt_id,
            )
            return RunResult(end_reason="unidentified", attempt_id=attempt_id)
        context, session_id = opened
        self.context = context
        try:
            script = self.runner.scripts(context.questionnaire)
            state, step = flow.start(script, unit_code=context.unit_code, language=language)
        except Exception:
            self.log.failure(
                "IVR attempt {attempt}: cannot start questionnaire {name}",
                attempt=attempt_id,
                name=context.questionnaire,
            )
            await store.finish_session(
                session_id, self.clock.seconds(), result=None, end_reason="error"
            )
            return RunResult(end_reason="error", attempt_id=attempt_id)
        self.language = state.language
        end_reason = "completed"
        try:
            await self.agi.send_command(replies.answer())
        except AGIError as error:
            end_reason = _end_reason(error)
            state, step = flow.next_step(state, flow.Hangup())
        while not isinstance(step, flow.End):
            if isinstance(step, flow.Answer):
                try:
                    await self._store_answer(step)  # before anything else: it must survive
                except Exception:
                    # An answer we cannot keep must not be asked for again and again.
                    self.log.failure("IVR attempt {attempt}: answer not stored", attempt=attempt_id)
                    end_reason = "store_error"
                    event: flow.Event = flow.Hangup()
                else:
                    event = flow.Done()
            else:
                try:
                    event = await self._perform(step)
                except AGIError as error:
                    end_reason = _end_reason(error)
                    event = flow.Hangup()
            state, step = flow.next_step(state, event)
            self.language = state.language  # a language menu may have changed it
        result = survey_result(step)
        outcome = OUTCOMES[result.value]
        finished = store.finish_session(
            session_id,
            self.clock.seconds(),
            result=result.value,
            end_reason=end_reason,
            answered=step.answered,
            asked=step.applicable,
            outcome=outcome.name,
            disposition=outcome.aapor,
            language=state.language,
        )
        try:
            await finished
        except Exception:
            self.log.failure("IVR attempt {attempt}: session end not stored", attempt=attempt_id)
        if self.runner.bus is not None and self.uniqueid is not None:
            self.runner.bus.publish(
                SurveyFinished(self.uniqueid, result.value, self.clock.seconds())
            )
        self.log.info(
            "IVR attempt {attempt} ended ({reason}): {outcome} {aapor}, {answered}/{applicable}",
            attempt=attempt_id,
            reason=end_reason,
            outcome=result.value,
            aapor=outcome.aapor,
            answered=step.answered,
            applicable=step.applicable,
        )
        return RunResult(
            end_reason=end_reason,
            outcome=result.value,
            aapor=outcome.aapor,
            answered=step.answered,
            applicable=step.applicable,
            attempt_id=attempt_id,
        )

    # -- identification --------------------------------------------------------

    async def _identify(self) -> tuple[int, str | None] | None:
        args = parse_args(self.env.args)
        raw_attempt = args.get("attempt")
        language = args.get("language")
        if raw_attempt is None or language is None:
            expression = f"${{{ATTEMPT_VARIABLE}}}|${{{LANGUAGE_VARIABLE}}}"
            reply = await self.agi.send_command(replies.get_full_variable(expression), dead_ok=True)
            values = (reply.data or "").split("|", 1) if reply.value == 1 else []
            values += [""] * (2 - len(values))
            raw_attempt = raw_attempt if raw_attempt is not None else values[0].strip()
            language = language if language is not None else values[1].strip()
        if not raw_attempt or not raw_attempt.isdigit():
            self.log.error(
                "IVR {uniqueid}: no usable {name} on the channel; ending the session",
                uniqueid=self.uniqueid,
                name=ATTEMPT_VARIABLE,
            )
            return None
        return int(raw_attempt), language or None

    # -- steps -----------------------------------------------------------------

    async def _perform(self, step: flow.Step) -> flow.Event:
        if isinstance(step, flow.Play):
            key = await self._play(_sounds(step.prompts), step.escape)
            self.event_at = self.clock.seconds()
            return flow.Digits(key) if key else flow.Done()
        if isinstance(step, flow.Collect):
            event = await self._collect(step)
            self.event_at = self.clock.seconds()
            return event
        if isinstance(step, flow.Record):
            event = await self._record(step)
            self.event_at = self.clock.seconds()
            return event
        raise AssertionError(f"unexpected step {step!r}")  # pragma: no cover

    async def _play(self, sounds: list[str], escape: str) -> str | None:
        """Play sounds in order; the first escape key pressed stops and is returned."""
        for sound in sounds:
            reply = await self.agi.send_command(
                replies.stream_file(sound, escape),
                _command_timeout_for_prompt(self.config, 0),
            )
            played = replies.key_result(reply)
            if played.failed:
                self._playback_failed(sound, played.endpos)
            elif played.key is not None:
                return played.key
        return None

    async def _require_channel(self) -> None:
        """Raise L{CallHungUp} unless the channel is still up (C{CHANNEL STATUS})."""
        reply = await self.agi.send_command(replies.channel_status())
        if reply.value is None or reply.value < 0:
            raise CallHungUp("no channel")

    def _playback_failed(self, sound: str, endpos: int | None) -> None:
        if endpos:  # it had started: the channel went away under it (trace b2)
            raise CallHungUp("playback cut off")
        self.log.error(
            "IVR attempt {attempt}: cannot play {sound} (missing sound file?)",
            attempt=self.context.attempt_id if self.context else None,
            sound=sound,
        )

    async def _collect(self, step: flow.Collect) -> flow.Event:
        sounds = _sounds(step.prompts)
        escape = "".join(dict.fromkeys(step.keys))
        first = await self._play(sounds[:-1], escape) if len(sounds) > 1 else None
        if first is None and sounds:
            ms = int(step.timeout * 1000)
            reply = await self.agi.send_command(
                replies.get_data(sounds[-1], ms, step.max_digits),
                _command_timeout_for_prompt(self.config, step.timeout * (step.max_digits + 1)),
            )
            got = replies.digits_result(reply)
            if not got.failed:
                if got.digits:
                    return flow.Digits(got.digits)
                if not got.timed_out and "#" in step.keys:
                    return flow.Digits("#")  # '#' ends GET DATA and is not returned
                return flow.NoInput()
            # result=-1: a hang-up, or a prompt file Asterisk cannot play. Ask which.
            await self._require_channel()
            self._playback_failed(sounds[-1], 0)
        digits = first or ""
        while len(digits) < step.max_digits and digits not in ("*", "#"):
            reply = await self.agi.send_command(
                replies.wait_for_digit(int(step.timeout * 1000)),
                step.timeout + self.config.slack_seconds,
            )
            got_key = replies.key_result(reply)
            if got_key.failed:
                raise CallHungUp("WAIT FOR DIGIT failed")
            if got_key.key is None or (got_key.key == "#" and digits):
                break
            digits += got_key.key
        return flow.Digits(digits) if digits else flow.NoInput()

    async def _record(self, step: flow.Record) -> flow.Event:
        await self._play(_sounds(step.prompts), "")
        assert self.context is not None
        name = f"{self.context.attempt_id}-{step.question_id}"
        if step.unit_code:
            name += f"-{step.unit_code}"
        path = f"{self.config.recordings_dir}/{self.context.campaign_id}/{name}"
        reply = await self.agi.send_command(
            replies.record_file(
                path,
                self.config.record_format,
                step.terminator,
                step.max_seconds * 1000,
                beep=step.beep,
                silence_s=step.silence_seconds or None,
            ),
            step.max_seconds + self.config.slack_seconds * 2,
        )
        recorded = replies.record_result(reply)
        seconds = (recorded.endpos or 0) / SAMPLE_RATE
        if recorded.failed and not recorded.hung_up:
            self.log.error(
                "IVR attempt {attempt}: RECORD FILE failed ({reason}); comment skipped",
                attempt=self.context.attempt_id,
                reason=recorded.reason,
            )
            return flow.NoInput()
        if seconds <= 0:
            if recorded.failed:
                raise CallHungUp("RECORD FILE failed")
            return flow.NoInput()
        if recorded.timed_out and step.silence_seconds and seconds <= SILENT_RECORDING_SECONDS:
            return flow.NoInput()  # ended on silence at once: nothing was said
        # Kept even if the caller hung up while speaking: the next command will tell.
        return flow.RecordDone(f"{path}.{self.config.record_format}", seconds)

    async def _store_answer(self, step: flow.Answer) -> None:
        context = self.context
        assert context is not None
        answer = NewAnswer(
            attempt_id=context.attempt_id,
            campaign_id=context.campaign_id,
            contact_id=context.contact_id,
            block=step.block_id,
            question=step.question_id,
            answered_at=self.event_at,
            unit_code=step.unit_code,
            code=step.code,
            key=step.key,
            value=step.recording,
            tries=1 + step.invalid + step.no_input,
            mode="ivr",
            language=self.language,
        )
        await self.runner.store.record_answer(answer)
        if self.runner._answer_written is not None:
            self.runner._answer_written(self.clock.seconds() - self.event_at)


def _sounds(prompts: tuple[flow.Say, ...]) -> list[str]:
    return [sound for say in prompts for sound in say.audio]


def _end_reason(error: AGIError) -> str:
    if isinstance(error, CallHungUp | SessionClosed):
        return "hangup"
    if isinstance(error, CommandTimeout):
        return "timeout"
    if isinstance(error, MalformedStream):
        return "malformed"
    return "error"
