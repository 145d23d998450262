"""`noema chat`: talk to a model in a full-screen terminal app, conversations saved as you go."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

from noema_tui.commands.options import (
    ApiKeyOption,
    CompileOption,
    DeviceOption,
    DtypeOption,
    HistoryOption,
    ModeChoice,
    QuantChoice,
    QuantOption,
    ServerOption,
)


def list_conversations() -> int:
    """Print the saved conversations, newest first, one per line; the exit code (1 when the
    file is damaged: what can be read is still listed)."""
    from noema_tui.app.store import ConversationStore
    from noema_tui.terminal_text import visible

    store = ConversationStore.open_default()
    if store.unavailable is not None:
        raise store.unavailable
    summaries = store.summaries()
    for s in summaries:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.updated_at))
        questions = f"{s.questions} question" + ("s" if s.questions != 1 else "")
        print(f"{s.id:>5}  {when}  {questions:>12}  {visible(s.model, one_line=True)}  "
              f"{visible(s.title, one_line=True)}")
    if store.damage is not None:
        print(f"error: {store.damage}", file=sys.stderr)
        return store.damage.exit_code
    if not summaries:
        print(f"no saved conversations in {store.path}", file=sys.stderr)
    return 0


def chat(
    model: Annotated[str | None, typer.Option(
        help="Bundled name, checkpoint directory or hub id. Default: the bundled default "
             "model.")] = None,
    device: DeviceOption = "auto",
    dtype: DtypeOption = "auto",
    quant: QuantOption = QuantChoice.none,
    compile: CompileOption = None,
    history: HistoryOption = None,
    mode: Annotated[ModeChoice | None, typer.Option(
        help="Decoding mode to start in (F2 cycles it while chatting). Default: q, or the "
             "mode a resumed conversation last used.", show_default=False)] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue the most recent conversation.")] = False,
    conversation: Annotated[int | None, typer.Option(
        help="Continue the conversation with this id (see --list).")] = None,
    list_: Annotated[bool, typer.Option(
        "--list", help="List saved conversations and exit.")] = False,
    theme: Annotated[str | None, typer.Option(
        help="Theme name: a .tcss file in themes/ (noema-dark, noema-light, noema-contrast) "
             "or in ~/.config/noema/themes/.")] = None,
    server: ServerOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Chat with a model: live diffusion blocks, math rendering, checked answers.

    Conversations are saved under $NOEMA_DATA_DIR or $XDG_DATA_HOME/noema/.
    Exit codes: 0 ok, 1 storage error, 2 usage (unknown theme or conversation
    id, no terminal), 129 / 143 ended by SIGHUP / SIGTERM (the conversation is
    saved first, a reply in flight kept as stopped).
    """
    from noema_core.errors import NoemaError

    def fail(err: NoemaError) -> typer.Exit:
        print(f"error: {err}", file=sys.stderr)
        return typer.Exit(err.exit_code)

    if list_:
        try:
            code = list_conversations()
        except NoemaError as err:
            raise fail(err) from None
        raise typer.Exit(code)

    if server and model:
        print("error: --model and --server both name a model: give one (the server has its "
              "own)", file=sys.stderr)
        raise typer.Exit(2)
    from noema_core.engine import DEFAULT_MODEL
    from noema_tui.commands.output import require_model

    require_model(model)
    if server and history is not None:
        print("error: --history and --server: the server's model decides which earlier turns "
              "it reads; drop --history", file=sys.stderr)
        raise typer.Exit(2)
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
    if store is not None and store.damage is not None:
        notice = f"Conversations will not be saved: {store.damage}"
    elif store is not None and store.unavailable is not None:
        if resume or conversation is not None:
            raise fail(store.unavailable)
        notice = f"Conversations are not saved yet: {store.unavailable}"
    options = ChatOptions(model=server or model or DEFAULT_MODEL, device=device, dtype=dtype,
                          quant=quant.value, compile=compile, history=history,
                          mode=mode.value if mode else None,
                          theme=theme or DEFAULT_THEME,
                          resume=resume, conversation_id=conversation, server=server,
                          api_key=api_key)
    try:  # usage errors (theme, conversation id) are reported before the screen is taken
        app = create_app(options, store=store, notice=notice)
    except NoemaError as err:
        raise fail(err) from None
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("error: noema chat needs a terminal: for pipes and scripts use noema ask",
              file=sys.stderr)
        raise typer.Exit(2)
    app.run()
    unsaved = app.chat_screen.session.close(timeout=5.0)
    if unsaved:
        error = app.chat_screen.session.saver.error
        print(f"error: {unsaved} change(s) to this conversation were not saved: {error}",
              file=sys.stderr)
        raise typer.Exit(1)
    if app.return_code:  # ended by SIGTERM (143) or SIGHUP (129), after saving
        raise typer.Exit(app.return_code)
