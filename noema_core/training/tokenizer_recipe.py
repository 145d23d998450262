"""Train the bundled model's byte-level BPE tokenizer on the curriculum.

Digits are always single tokens (arithmetic is learned digit by digit); the special tokens and
chat template are Noema-1's (spec section 6), so one code path serves both models.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

from noema_core.chat_template import BOS_TOKEN, CHAT_TEMPLATE, EOS_TOKEN, SPECIAL_TOKENS


def _corpus(samples: int, seed: int) -> Iterator[str]:
    from noema_core.chat_template import render_prompt
    from noema_core.training.curriculum import training_stream

    for problem in itertools.islice(training_stream(seed, check_share=0.0), samples):
        yield render_prompt([{"role": "user", "content": problem.question}])
        yield problem.solution


def train_tokenizer(directory: str | Path, *, vocab_size: int = 1024, samples: int = 200_000,
                    seed: int = 0) -> None:
    """Write tokenizer.json and tokenizer_config.json (with the chat template) to `directory`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tokenizer.train_from_iterator(_corpus(samples, seed), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token=EOS_TOKEN,
                                   pad_token=EOS_TOKEN, bos_token=BOS_TOKEN)
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(str(directory))
    _make_portable(Path(directory))


def _make_portable(directory: Path) -> None:
    """Name the generic fast-tokenizer class and keep the template inside
    tokenizer_config.json too, so transformers 4.x reads the files as 5.x does."""
    import json

    path = directory / "tokenizer_config.json"
    config = json.loads(path.read_text())
    config.update(tokenizer_class="PreTrainedTokenizerFast", chat_template=CHAT_TEMPLATE)
    path.write_text(json.dumps(config, indent=2) + "\n")
