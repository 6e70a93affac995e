"""Build a tiny random sentence-transformers model offline, for tests that need a real ST folder."""

from __future__ import annotations

import inspect
import string
import tempfile
from pathlib import Path

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _vocab() -> list[str]:
    """Specials, ASCII characters (plus ## continuations) and every character of the seed texts."""
    ascii_chars = string.ascii_letters + string.digits + string.punctuation
    chars = set(ascii_chars)
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted(SEEDS.glob("*.txt"))]
    chars.update("".join(texts))
    try:  # the pipeline embeds t2s-converted text, so its characters must not be [UNK]
        from opencc import OpenCC

        chars.update(OpenCC("t2s").convert("".join(texts)))
    except ImportError:
        pass
    chars = {c for c in chars if not c.isspace() and c.isprintable()}
    # BERT's basic tokenizer keeps ASCII words whole, so WordPiece needs "##x" pieces.
    cont = ["##" + c for c in string.ascii_letters + string.digits]
    return SPECIALS + sorted(chars) + cont


def build_tiny_st_model(folder: Path) -> Path:
    """Create a 32-d, 2-layer BERT with char-level tokenizer and mean pooling, saved in ``folder``.

    Weights are random (seed 0): vectors are meaningless but deterministic.
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    try:
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Pooling, Transformer

    folder = Path(folder)
    with tempfile.TemporaryDirectory() as tmp:
        hf = Path(tmp)
        vocab = _vocab()
        (hf / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
        if "vocab" in inspect.signature(BertTokenizerFast.__init__).parameters:
            # transformers >= 5 takes the vocabulary directly (a path there is silently ignored)
            tok = BertTokenizerFast(vocab={t: i for i, t in enumerate(vocab)}, do_lower_case=False)
        else:
            tok = BertTokenizerFast(vocab_file=str(hf / "vocab.txt"), do_lower_case=False)
        torch.manual_seed(0)
        config = BertConfig(
            vocab_size=len(vocab),
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=512,
        )
        BertModel(config).save_pretrained(hf)
        tok.save_pretrained(hf)
        word = Transformer(str(hf), max_seq_length=256)
        pool = Pooling(32, pooling_mode="mean")
        SentenceTransformer(modules=[word, pool], device="cpu").save(str(folder))
    return folder
