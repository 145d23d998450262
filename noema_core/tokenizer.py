"""The checkpoint's tokenizer: a fast HF tokenizer plus the special ids decoding needs.

Special ids are resolved by name, never assumed, so Noema-1 and the bundled models share one
code path. The chat template comes from tokenizer_config.json (rendered by transformers'
sandboxed Jinja environment).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from noema_core.chat_template import EOS_TOKEN, MASK_TOKEN, ROLE_END_TOKEN
from noema_core.errors import TokenizerError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast


class NoemaTokenizer:
    def __init__(self, hf_tokenizer: PreTrainedTokenizerFast,
                 template_file: str = "the tokenizer's chat_template") -> None:
        self.hf = hf_tokenizer
        self._template_file = template_file  # named when the template fails
        self.mask_id = self._require(MASK_TOKEN)
        self.eos_id = self._require(EOS_TOKEN)
        self.role_end_id = self._require(ROLE_END_TOKEN)
        if len({self.mask_id, self.eos_id, self.role_end_id}) < 3:
            raise TokenizerError(
                f"tokenizer maps {MASK_TOKEN}, {EOS_TOKEN} and {ROLE_END_TOKEN} to overlapping "
                f"ids: the tokenizer files do not belong to a Noema/LLaDA2 checkpoint"
            )
        if not getattr(hf_tokenizer, "chat_template", None):
            raise TokenizerError("tokenizer_config.json has no chat_template: use the "
                                 "checkpoint's original tokenizer files")
        # The reference stops only at EOS; a chat template that closes each turn with the role
        # end makes it a stop too (DecodingSettings.stop_at_role_end), or replies run on.
        self.turn_end_id = self.role_end_id if self._closes_turns_with(ROLE_END_TOKEN) else None
        self._pieces: dict[int, str] = {}
        self._added_tokens = [t.content for t in hf_tokenizer.added_tokens_decoder.values()]

    @classmethod
    def from_dir(cls, path: str | Path) -> NoemaTokenizer:
        from noema_core.checkpoint_files import check_tokenizer_files

        path = Path(path)
        check_tokenizer_files(path)  # each inside the checkpoint and a regular file, or refused
        if not (path / "tokenizer.json").is_file():
            raise TokenizerError(f"{path / 'tokenizer.json'} is missing: a checkpoint directory "
                                 f"needs its tokenizer files")
        from transformers import PreTrainedTokenizerFast

        try:
            hf = PreTrainedTokenizerFast.from_pretrained(str(path), local_files_only=True)
        except Exception as err:  # transformers raises many types for bad files
            raise TokenizerError(f"tokenizer files in {path} could not be read ({err}): "
                                 f"re-download the checkpoint") from None
        template = "chat_template.jinja" if (path / "chat_template.jinja").is_file() \
            else "tokenizer_config.json"
        tokenizer = cls(hf, template_file=str(path / template))
        tokenizer.check_template()
        return tokenizer

    def check_template(self) -> None:
        """Render a probe chat once at load, so a template that breaks (or breaks out of its
        sandbox) is a load error naming its file, not a failure at the first question."""
        probe = "\ue000probe\ue001"
        text = self.render_chat([{"role": "system", "content": "s"},
                                 {"role": "user", "content": probe}])
        if text.count(probe) != 1:
            raise TokenizerError(f"the chat template in {self._template_file} drops or repeats "
                                 f"the user's message: use the checkpoint's original template")

    def _require(self, token: str) -> int:
        token_id = self.hf.convert_tokens_to_ids(token)
        if token_id is None or token_id == self.hf.unk_token_id or not isinstance(token_id, int):
            raise TokenizerError(f"the tokenizer has no {token} token: use the checkpoint's own "
                                 f"tokenizer files")
        return token_id

    def _closes_turns_with(self, token: str) -> bool:
        """Whether the chat template writes `token` right after an assistant turn's text."""
        mark = "\ue000"
        try:
            text = self.hf.apply_chat_template(
                [{"role": "user", "content": "q"}, {"role": "assistant", "content": mark}],
                tokenize=False, add_generation_prompt=False)
        except Exception:  # noqa: BLE001 - rendering fails later with its own message
            return True  # keep stopping at the role end, as before
        return mark in text and text.split(mark, 1)[1].startswith(token)

    @property
    def stop_ids(self) -> frozenset[int]:
        """Ids that end a reply: EOS, and the role end that closes an assistant turn."""
        return frozenset({self.eos_id, self.role_end_id})

    @property
    def vocab_size(self) -> int:
        return len(self.hf)

    def encode(self, text: str) -> list[int]:
        return self.hf.encode(text, add_special_tokens=False)

    def encode_chat(self, messages: Sequence[dict[str, str]]) -> list[int]:
        """The chat as prompt ids. Message contents are plain text: typing `<|mask|>` or a
        role tag gives those characters, never the control token the template uses."""
        if not any(token in m["content"] for m in messages for token in self._added_tokens):
            return self.encode(self.render_chat(messages))  # the common case, one pass
        # Render with a private-use marker in place of each content, encode the template's
        # own text as usual and each content with special tokens split into plain text.
        marks = [f"\ue000{i}\ue001" for i in range(len(messages))]
        skeleton = self.render_chat([{**m, "content": mark}
                                     for m, mark in zip(messages, marks, strict=True)])
        if any(skeleton.count(mark) != 1 for mark in marks):
            raise TokenizerError("the chat template repeats or drops a message's content: use "
                                 "the checkpoint's original tokenizer_config.json")
        ids: list[int] = []
        start = 0
        for position, index in sorted((skeleton.index(mark), i) for i, mark in enumerate(marks)):
            ids += self.encode(skeleton[start:position])
            ids += self.hf.encode(messages[index]["content"], add_special_tokens=False,
                                  split_special_tokens=True)
            start = position + len(marks[index])
        return ids + self.encode(skeleton[start:])

    def render_chat(self, messages: Sequence[dict[str, str]]) -> str:
        """The chat as text, by the checkpoint's template. transformers renders it in Jinja's
        ImmutableSandboxedEnvironment, so a template reaching for attributes such as
        `__class__` or mutating objects stops with a SecurityError: a load error here."""
        from jinja2 import TemplateError

        try:
            return self.hf.apply_chat_template(list(messages), tokenize=False,
                                               add_generation_prompt=True)
        except TemplateError as err:
            raise TokenizerError(f"the chat template in {self._template_file} failed "
                                 f"({type(err).__name__}: {err}): use the checkpoint's original "
                                 f"template") from None

    def decode(self, ids: Sequence[int]) -> str:
        keep = [i for i in ids if i not in self.stop_ids and i != self.mask_id]
        return self.hf.decode(keep, skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def decode_piece(self, token_id: int) -> str:
        """The text of one token on its own, for drawing a slot of the live block."""
        piece = self._pieces.get(token_id)
        if piece is None:
            piece = self.hf.decode([token_id], skip_special_tokens=False,
                                   clean_up_tokenization_spaces=False)
            self._pieces[token_id] = piece
        return piece
