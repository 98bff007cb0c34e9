"""TokenizerWrapper: MLX-LM's tokenizer interface over a tessera C++ tokenizer, with chat templates."""

import json

from .. import core

_lm = core.lm


class StreamingDetokenizer:
    """MLX-LM's detokenizer interface: add_token, finalize, last_segment, text, tokens."""

    def __init__(self, tokenizer, skip_special_tokens=True):
        self._tokenizer = tokenizer
        self._skip = skip_special_tokens
        self.reset()

    def reset(self):
        self._d = _lm.StreamingDetokenizer(self._tokenizer, self._skip)
        self._segment = ""

    def set_context(self, tokens):
        self._d.set_context(list(tokens))

    def add_token(self, token):
        piece = self._d.add_token(int(token))
        self._segment += piece
        return piece

    def finalize(self):
        piece = self._d.finalize()
        self._segment += piece
        return piece

    @property
    def last_segment(self):
        """The text completed since the last call."""
        s, self._segment = self._segment, ""
        return s

    @property
    def text(self):
        return self._d.text

    @property
    def tokens(self):
        return self._d.tokens


class TokenizerWrapper:
    """encode / decode / special ids / apply_chat_template, as MLX-LM's TokenizerWrapper."""

    def __init__(self, tokenizer, chat_template=None):
        self._tokenizer = tokenizer
        self.chat_template = chat_template if chat_template is not None else tokenizer.chat_template

    @property
    def core(self):
        """The wrapped tessera.core.lm.Tokenizer."""
        return self._tokenizer

    def encode(self, text, add_special_tokens=True):
        return self._tokenizer.encode(text, add_special_tokens)

    def decode(self, ids, skip_special_tokens=False):
        if isinstance(ids, int):
            ids = [ids]
        return self._tokenizer.decode([int(i) for i in ids], skip_special_tokens)

    def convert_ids_to_tokens(self, ids):
        if isinstance(ids, int):
            return self._tokenizer.id_to_token(ids)
        return [self._tokenizer.id_to_token(int(i)) for i in ids]

    def convert_tokens_to_ids(self, tokens):
        if isinstance(tokens, str):
            return self._tokenizer.token_to_id(tokens)
        return [self._tokenizer.token_to_id(t) for t in tokens]

    @property
    def vocab_size(self):
        return self._tokenizer.vocab_size

    @property
    def bos_token_id(self):
        return self._tokenizer.bos_id

    @property
    def bos_token(self):
        i = self.bos_token_id
        return None if i is None else self._tokenizer.id_to_token(i)

    @property
    def eos_token_ids(self):
        return set(self._tokenizer.eos_ids)

    @property
    def eos_token_id(self):
        ids = self._tokenizer.eos_ids
        return ids[0] if ids else None

    @property
    def eos_token(self):
        i = self.eos_token_id
        return None if i is None else self._tokenizer.id_to_token(i)

    @property
    def detokenizer(self):
        return StreamingDetokenizer(self._tokenizer)

    def apply_chat_template(self, messages, add_generation_prompt=False, tokenize=True, tools=None,
                            chat_template=None, **kwargs):
        """Renders the chat template (Jinja2, in C++) for messages (a list of {"role", "content", ...}).
        tokenize=True returns token ids (encoded without adding special tokens), else the text."""
        template = chat_template or self.chat_template
        if template is None:
            raise ValueError("[chat_template] this tokenizer has no chat template; set tokenizer.chat_template "
                             "or pass chat_template=.")
        text = _lm.apply_chat_template(
            template,
            json.dumps(list(messages)),
            add_generation_prompt=add_generation_prompt,
            bos_token=self.bos_token,
            eos_token=self.eos_token,
            tools_json=json.dumps(tools),
            extra_json=json.dumps(kwargs),
        )
        return self.encode(text, add_special_tokens=False) if tokenize else text
