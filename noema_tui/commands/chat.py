"""`noema chat`: talk to a model in a full-screen terminal app, conversations saved as you go."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

from noema_tui.commands.options import (
    DeviceOption,
    DtypeOption,
    ModeChoice,
    QuantChoice,
    QuantOption,
)


def list_conversations() -> None:
    """Print the saved conversations, newest first, one per line."""
    from noema_tui.app.store import ConversationStore

    store = ConversationStore.open_default()
    summaries = store.summaries()
    if not summaries:
        print(f"no saved conversations in {store.path}", file=sys.stderr)
        return
    for s in summaries:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.updated_at))
        questions = f"{s.questions} question" + ("s" if s.questions != 1 else "")
        print(f"{s.id:>5}  {when}  {questions:>12}  {s.model}  {s.title}")


def chat(
    model: Annotated[str | None, typer.Option(
        help="Bundled name, checkpoint directory or hub id. Default: the bundled default "
             "model.")] = None,
    device: DeviceOption = "auto",
    dtype: DtypeOption = "auto",
    quant: QuantOption = QuantChoice.none,
    mode: Annotated[ModeChoice, typer.Option(
        help="Decoding mode to start in (F2 cycles it while chatting).")] = ModeChoice.q,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue the most recent conversation.")] = False,
    conversation: Annotated[int | None, typer.Option(
        help="Continue the conversation with this id (see --list).")] = None,
    list_: Annotated[bool, typer.Option(
        "--list", help="List saved conversations and exit.")] = False,
    theme: Annotated[str | None, typer.Option(
        help="Theme name: a .tcss file in themes/ (noema-dark, noema-light, noema-contrast) "
             "or in ~/.config/noema/themes/.")] = None,
) -> None:
    """Chat with a model: live diffusion blocks, math rendering, checked answers.

    Conversations are saved under $NOEMA_DATA_DIR or $XDG_DATA_HOME/noema/.
    Exit codes: 0 ok, 1 storage error, 2 usage (unknown theme or conversation
    id, no terminal).
    """
    from noema_core.errors import NoemaError

    def fail(err: NoemaError) -> typer.Exit:
        print(f"error: {err}", file=sys.stderr)
        return typer.Exit(err.exit_code)

    if list_:
        try:
            list_conversations()
        except NoemaError as err:
            raise fail(err) from None
        return

    from noema_core.engine import DEFAULT_MODEL
    from noema_tui.app.factory import ChatOptions, create_app
    from noema_tui.app.store import ConversationStore, StoreError
    from noema_tui.app.themes import DEFAULT_THEME

    store, notice = None, ""
    try:
        store = ConversationStore.open_default()
    except StoreError as err:
        if resume or conversation is not None:
            raise fail(err) from None
        notice = f"Conversations will not be saved: {err}"
    options = ChatOptions(model=model or DEFAULT_MODEL, device=device, dtype=dtype,
                          quant=quant.value, mode=mode.value, theme=theme or DEFAULT_THEME,
                          resume=resume, conversation_id=conversation)
    try:  # usage errors (theme, conversation id) are reported before the screen is taken
        app = create_app(options, store=store, notice=notice)
    except NoemaError as err:
        raise fail(err) from None
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("error: noema chat needs a terminal: for pipes and scripts use noema ask",
              file=sys.stderr)
        raise typer.Exit(2)
    app.run()
