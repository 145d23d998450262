"""The Ling-2 chat template (spec section 6), shared by Noema-1 and the bundled models.

A checkpoint carries its template in tokenizer_config.json and the engine renders it from
there; this constant is what our tokenizer recipe writes into the files it saves.
"""

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
