"""Corpora, tokenizers and the encoding of lines into token tensors."""

from textgan.data.corpus import (
    BUILTIN_CORPORA,
    CorpusSplits,
    corpora_dir,
    load_corpus,
    read_lines,
    read_text_lines,
    resolve_corpus,
)
from textgan.data.encoding import EncodeReport, choose_max_len, encode_lines, sequence_lengths
from textgan.data.tokenizers import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    SPECIAL_TOKENS,
    TOKENIZER_KINDS,
    UNK_ID,
    SentencePieceTokenizer,
    Tokenizer,
    VocabTokenizer,
    build_tokenizer,
    load_tokenizer,
)

__all__ = [
    "BOS_ID",
    "BUILTIN_CORPORA",
    "EOS_ID",
    "PAD_ID",
    "SPECIAL_TOKENS",
    "TOKENIZER_KINDS",
    "UNK_ID",
    "CorpusSplits",
    "EncodeReport",
    "SentencePieceTokenizer",
    "Tokenizer",
    "VocabTokenizer",
    "build_tokenizer",
    "choose_max_len",
    "corpora_dir",
    "encode_lines",
    "load_corpus",
    "load_tokenizer",
    "read_lines",
    "read_text_lines",
    "resolve_corpus",
    "sequence_lengths",
]
