"""The Ling-2 chat template (spec section 6), shared by Noema-1 and the bundled models.

A checkpoint carries its template in tokenizer_config.json and the engine renders it from
there; this constant is what our tokenizer recipe writes into the files it saves.
"""

import functools

CHAT_TEMPLATE = (
    "{%- set ns = namespace(system='') -%}"
    "{%- for m in messages if m['role'] == 'system' -%}"
    "{%- set ns.system = m['content'] + '\\n' -%}"
    "{%- endfor -%}"
    "<role>SYSTEM</role>{{ ns.system }}detailed thinking off<|role_end|>"
    "{%- for m in messages if m['role'] != 'system' -%}"
    "<role>{{ 'HUMAN' if m['role'] == 'user' else 'ASSISTANT' }}</role>"
    "{{ m['content'] }}<|role_end|>"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}<role>ASSISTANT</role>{%- endif -%}"
)

MASK_TOKEN = "<|mask|>"
EOS_TOKEN = "<|endoftext|>"
ROLE_END_TOKEN = "<|role_end|>"
BOS_TOKEN = "<|startoftext|>"
ROLE_TAGS = ("<role>", "</role>", "SYSTEM", "HUMAN", "ASSISTANT")
SPECIAL_TOKENS = [EOS_TOKEN, BOS_TOKEN, MASK_TOKEN, ROLE_END_TOKEN, *ROLE_TAGS]


def render_prompt(messages: list[dict[str, str]], *, add_generation_prompt: bool = True) -> str:
    """Render CHAT_TEMPLATE without a tokenizer (training data, tokenizer training), in the
    same sandboxed Jinja environment transformers uses for templates."""
    return _compiled_template().render(messages=messages,
                                       add_generation_prompt=add_generation_prompt)


@functools.cache
def _compiled_template():
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True).from_string(
        CHAT_TEMPLATE)
