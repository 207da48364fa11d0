"""Decoder-only LLMs for serving: prefill and decode passes with a KV cache.

``TransformerConfig`` describes a GPT-2 / LLaMA-style decoder (hidden size,
query heads, key/value heads for grouped- or multi-query attention, FFN size,
gated SwiGLU FFN or not, layers, vocabulary); ``prefill(seq_len, batch)`` and
``decode(kv_len, batch)`` build one pass of each serving phase as a
``Network`` with ``phase``, ``sequences`` and ``tokens_per_pass`` set, from
which ``jaxdse`` reports time to first token, time per output token, tokens/s
and energy per token. ``from_hf_config`` reads a Hugging Face ``config.json``.

Per block and sequence (``q`` query tokens: the prompt in prefill, 1 in
decode; ``kv`` keys: the prompt in prefill, the cache in decode; ``h`` query
heads, ``h_kv`` KV heads, ``g = h / h_kv`` query heads per KV head, ``d``
head size):

* ``q_proj`` hidden -> h d, ``k_proj`` / ``v_proj`` hidden -> h_kv d,
  ``o_proj`` h d -> hidden: ``linear`` over the q tokens (weights shared by the
  batch, as weights are).
* ``scores`` = Q K^T and ``context`` = P V: ``matmul(..., b_shared=False)`` with
  G = h_kv x batch, so K and V are each sequence's own operand, read once per
  sequence and KV head; the g query heads sharing a KV head fold into the rows
  (P = g q), which is exactly how GQA/MQA reuse K and V (Ainslie et al. 2023,
  GQA, sec. 2). In decode K and V are the KV cache: ``kv_len`` cached tokens
  (the new token's included) are the second operand, real off-chip traffic.
* FFN: ``gate``, ``up`` (hidden -> ffn) and ``down`` (ffn -> hidden) when
  gated (SwiGLU, Shazeer 2020; LLaMA, Touvron et al. 2023, sec. 2.2), else
  ``fc1``, ``fc2``.
* LM head hidden -> vocab on the last token of each sequence (what a server
  needs to sample the next token; prefill's other positions' logits are
  not computed).

Attention is counted as the full ``q x kv`` rectangle (no causal skipping in
prefill), as Hoffmann et al. 2022 (Chinchilla), Appendix F, count it. Not
modelled (no MACs): token and position embedding look-ups, rotary position
embedding, norms, softmax, activations, residual adds. The MAC count is that of
Hoffmann et al. 2022, App. F, minus their embedding matmul and softmax.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flax import struct

from workloads.errors import WorkloadError
from workloads.layer import MAX_EXTENT, Layer, linear, matmul
from workloads.network import Network
from workloads.specfile import printable, read_spec, show

NOT_MODELLED = (
    "Not modelled (no MACs): token/position embedding look-ups, rotary embedding, norms, softmax, activations, "
    "residual adds; attention counted as the full rectangle (no causal skipping)."
)


def _check_int(owner: str, field: str, v: Any, minimum: int = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not minimum <= v <= MAX_EXTENT:
        raise ValueError(f"{owner}: field '{field}' expected an int in {minimum}..{MAX_EXTENT}, found {show(v)}")
    return v


@struct.dataclass(frozen=True)
class TransformerConfig:
    """A decoder-only transformer's shape (all fields static).

    Attributes:
        name: Model name; networks are ``<name>_prefill`` / ``<name>_decode``.
        hidden: Model (residual stream) width.
        heads: Query heads.
        kv_heads: Key/value heads (= heads: multi-head; 1: multi-query;
            in between: grouped-query attention). Must divide ``heads``.
        ffn: FFN inner width.
        gated: SwiGLU-style gated FFN (gate, up, down) instead of fc1, fc2.
        layers: Transformer blocks.
        vocab: Vocabulary of the LM head.
        head_dim: Size of one head (0: ``hidden // heads``, which must divide).
        bits: (inputs, weights, outputs) bits of every layer (16: fp16/bf16).
        source: Where the shape comes from (paper, model card, config file).
    """

    name: str = struct.field(pytree_node=False)
    hidden: int = struct.field(pytree_node=False)
    heads: int = struct.field(pytree_node=False)
    kv_heads: int = struct.field(pytree_node=False)
    ffn: int = struct.field(pytree_node=False)
    gated: bool = struct.field(pytree_node=False)
    layers: int = struct.field(pytree_node=False)
    vocab: int = struct.field(pytree_node=False)
    head_dim: int = struct.field(pytree_node=False, default=0)
    bits: tuple[int, int, int] = struct.field(pytree_node=False, default=(16, 16, 16))
    source: str = struct.field(pytree_node=False, default="")

    def __post_init__(self) -> None:
        owner = "TransformerConfig"
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"{owner}: field 'name' expected a non-empty str, found {show(self.name)}")
        owner = f"TransformerConfig '{self.name}'"
        for f in ("hidden", "heads", "kv_heads", "ffn", "layers", "vocab"):
            _check_int(owner, f, getattr(self, f))
        _check_int(owner, "head_dim", self.head_dim, minimum=0)
        if not isinstance(self.gated, bool):
            raise TypeError(f"{owner}: field 'gated' expected a bool, found {show(self.gated)}")
        if self.heads % self.kv_heads:
            raise ValueError(
                f"{owner}: field 'kv_heads' expected a divisor of heads={self.heads}, found {self.kv_heads}"
            )
        if self.head_dim == 0 and self.hidden % self.heads:
            raise ValueError(
                f"{owner}: field 'heads' expected a divisor of hidden={self.hidden} (or give head_dim), "
                f"found {self.heads}"
            )
        if not isinstance(self.bits, tuple) or len(self.bits) != 3:
            raise ValueError(f"{owner}: field 'bits' expected three ints, found {show(self.bits)}")
        for i, b in enumerate(self.bits):
            _check_int(owner, f"bits[{i}]", b)

    @property
    def d_head(self) -> int:
        """Size of one attention head."""
        return self.head_dim or self.hidden // self.heads

    def block(self, prefix: str, q_len: int, kv_len: int, batch: int) -> list[Layer]:
        """Layers of one block for ``batch`` sequences of ``q_len`` new tokens attending over ``kv_len``."""
        d, hd, h, hkv, b, bits = self.hidden, self.d_head, self.heads, self.kv_heads, batch, self.bits
        group = h // hkv

        def lin(part: str, fin: int, fout: int) -> Layer:
            return linear(f"{prefix}.{part}", fin, fout, tokens=q_len, batch=b, bits=bits)

        attn = [
            lin("attn.q_proj", d, h * hd),
            lin("attn.k_proj", d, hkv * hd),
            lin("attn.v_proj", d, hkv * hd),
            # each sequence's own K / V (the KV cache in decode): per-sample second operand
            matmul(f"{prefix}.attn.scores", m=group * q_len, k=hd, n=kv_len, heads=hkv, batch=b, bits=bits,
                   b_shared=False),
            matmul(f"{prefix}.attn.context", m=group * q_len, k=kv_len, n=hd, heads=hkv, batch=b, bits=bits,
                   b_shared=False),
            lin("attn.o_proj", h * hd, d),
        ]  # fmt: skip
        if self.gated:
            ffn = [lin(f"mlp.{p}_proj", d, self.ffn) for p in ("gate", "up")] + [lin("mlp.down_proj", self.ffn, d)]
        else:
            ffn = [lin("mlp.fc1", d, self.ffn), lin("mlp.fc2", self.ffn, d)]
        return attn + ffn

    def _network(self, phase: str, q_len: int, kv_len: int, batch: int, what: str) -> Network:
        layers = []
        for i in range(self.layers):
            layers += self.block(f"layer{i + 1}", q_len, kv_len, batch)
        layers.append(linear("lm_head", self.hidden, self.vocab, tokens=1, batch=batch, bits=self.bits))
        attn = "MHA" if self.kv_heads == self.heads else ("MQA" if self.kv_heads == 1 else "GQA")
        notes = (
            f"{self.name} {phase} ({self.layers} layers, hidden {self.hidden}, {self.heads} heads / "
            f"{self.kv_heads} KV heads ({attn}), FFN {self.ffn}{' gated' if self.gated else ''}, vocab "
            f"{self.vocab}){'; ' + self.source if self.source else ''}. {what} Batch {batch}. "
            "LM head on the last token of each sequence. " + NOT_MODELLED
        )
        return Network.from_layers(
            f"{self.name}_{phase}",
            layers,
            notes=notes,
            phase=phase,
            sequences=batch,
            tokens_per_pass=batch * q_len,
        )

    def prefill(self, seq_len: int, batch: int = 1) -> Network:
        """One prefill pass: ``batch`` prompts of ``seq_len`` tokens, up to each one's first output token."""
        owner = f"{self.name}.prefill"
        _check_int(owner, "seq_len", seq_len)
        _check_int(owner, "batch", batch)
        return self._network("prefill", seq_len, seq_len, batch, f"Prompt {seq_len} tokens per sequence.")

    def decode(self, kv_len: int, batch: int = 1) -> Network:
        """One decode step: ``batch`` sequences each emit one token, attending over ``kv_len`` cached tokens.

        ``kv_len`` counts the cache including the new token's own K/V.
        """
        owner = f"{self.name}.decode"
        _check_int(owner, "kv_len", kv_len)
        _check_int(owner, "batch", batch)
        return self._network("decode", 1, kv_len, batch, f"One new token per sequence over a {kv_len}-token KV cache.")

    def weight_params(self) -> int:
        """Parameters of the matmul weights (blocks and LM head; no biases, norms, embeddings)."""
        d, hd, h, hkv = self.hidden, self.d_head, self.heads, self.kv_heads
        ffn = (3 if self.gated else 2) * d * self.ffn
        return self.layers * (2 * d * h * hd + 2 * d * hkv * hd + ffn) + d * self.vocab


# --------------------------------------------------------------- zoo entries
GPT2_MEDIUM = TransformerConfig(
    name="gpt2_medium",
    hidden=1024,
    heads=16,
    kv_heads=16,
    ffn=4096,
    gated=False,
    layers=24,
    vocab=50257,
    source="Radford et al. 2019, Table 2 (24 layers, d_model 1024); HF gpt2-medium config.json (16 heads, "
    "n_inner 4 x 1024, vocab 50257, n_ctx 1024)",
)
"""GPT-2 medium (355M parameters per the openai-community/gpt2-medium model card)."""

LLAMA2_7B = TransformerConfig(
    name="llama2_7b",
    hidden=4096,
    heads=32,
    kv_heads=32,
    ffn=11008,
    gated=True,
    layers=32,
    vocab=32000,
    source="Touvron et al. 2023a (LLaMA), Table 2: 6.7B, dim 4096, 32 heads, 32 layers, SwiGLU FFN 2/3 x 4d "
    "(11008 in meta-llama/Llama-2-7b-hf config.json); Touvron et al. 2023b (Llama 2), sec. 2.2: same "
    "architecture, 4096-token context, 32k vocabulary",
)
"""A LLaMA-2-7B-style model (multi-head attention, as the 7B model has; GQA only from 34B up)."""

LLM_ENTRIES: dict[str, tuple[TransformerConfig, str, int]] = {
    # zoo name: (config, phase, length). GPT-2 medium: a 512-token prompt; decode at its full
    # 1024-token context (n_ctx). LLaMA-2-7B: a 2048-token prompt; decode at the full 4096-token
    # context of Llama 2 (Touvron et al. 2023b, sec. 2.2), the KV cache's worst case.
    "gpt2_medium_prefill": (GPT2_MEDIUM, "prefill", 512),
    "gpt2_medium_decode": (GPT2_MEDIUM, "decode", 1024),
    "llama2_7b_prefill": (LLAMA2_7B, "prefill", 2048),
    "llama2_7b_decode": (LLAMA2_7B, "decode", 4096),
}
"""The zoo's LLM passes at the stated lengths (batch from ``workloads.get(name, batch=...)``)."""


def zoo_builder(name: str):
    """``builder(batch) -> Network`` for one of ``LLM_ENTRIES``."""
    config, phase, length = LLM_ENTRIES[name]
    return lambda batch: getattr(config, phase)(length, batch)


# ------------------------------------------------------- Hugging Face config
_MISSING = object()

_FAMILIES = {
    # model_type: (hidden, heads, kv heads, layers, ffn keys, gated) per the HF config classes
    # (GPT2Config: n_embd, n_head, n_layer, n_inner = None -> 4 n_embd; LlamaConfig / Qwen2Config:
    # hidden_size, num_attention_heads, num_key_value_heads = None -> num_attention_heads,
    # num_hidden_layers, intermediate_size; LlamaMLP / Qwen2MLP are gated: down(act(gate(x)) * up(x))).
    "gpt2": ("n_embd", "n_head", None, "n_layer", "n_inner", False),
    "llama": ("hidden_size", "num_attention_heads", "num_key_value_heads", "num_hidden_layers", "intermediate_size",
              True),
    "qwen2": ("hidden_size", "num_attention_heads", "num_key_value_heads", "num_hidden_layers", "intermediate_size",
              True),
}  # fmt: skip
_DTYPE_BITS = {"float16": 16, "bfloat16": 16, "float32": 32}
"""``torch_dtype`` (newer configs: ``dtype``) of the checkpoint -> bits per value."""


def from_hf_config(config: Mapping | str | Path, name: str | None = None) -> TransformerConfig:
    """A ``TransformerConfig`` from a Hugging Face ``config.json`` (a dict or a file path; no downloads).

    Supported ``model_type``: ``gpt2``, ``llama`` and ``qwen2`` (without a sliding window).
    Reduce a model for quick studies with ``.replace(layers=2)``.

    Raises:
        WorkloadError: Unreadable file, unsupported ``model_type``, or a missing
            or bad key; the message names the key, what was expected and what was found.
    """
    if isinstance(config, (str, Path)):
        source = printable(config)
        config = read_spec(config, "Hugging Face config", WorkloadError)
    else:
        source = "<dict>"

    def fail(key: str, expected: str, found: Any) -> WorkloadError:
        shown = "nothing (key missing)" if found is _MISSING else show(found)
        return WorkloadError(f"{source}: field '{key}' expected {expected}, found {shown}")

    if not isinstance(config, Mapping):
        raise fail("<top level>", "a mapping (the JSON object of config.json)", config)
    mtype = config.get("model_type", _MISSING)
    if mtype not in _FAMILIES:
        raise fail("model_type", f"one of {sorted(_FAMILIES)}", mtype)

    def pos(key: str, default: Any = _MISSING) -> int:
        v = config.get(key, default)
        if v is None and default is not _MISSING:
            v = default
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_EXTENT:
            raise fail(key, f"a positive int (at most {MAX_EXTENT})", v)
        return v

    k_hidden, k_heads, k_kv, k_layers, k_ffn, gated = _FAMILIES[mtype]
    hidden, heads = pos(k_hidden), pos(k_heads)
    kv_heads = pos(k_kv, heads) if k_kv else heads
    ffn = pos(k_ffn, 4 * hidden) if mtype == "gpt2" else pos(k_ffn)
    if mtype == "qwen2" and config.get("use_sliding_window", False):
        raise fail("use_sliding_window", "false (sliding-window attention is not modelled)", True)
    head_dim = pos("head_dim", hidden // heads) if "head_dim" in config else 0
    dkey = "torch_dtype" if "torch_dtype" in config else "dtype"
    dtype = config.get(dkey, "float16")
    if dtype not in _DTYPE_BITS:
        raise fail(dkey, f"one of {sorted(_DTYPE_BITS)}", dtype)
    if name is None:
        base = config.get("_name_or_path") or mtype
        name = str(base).rstrip("/").split("/")[-1].replace("-", "_").replace(".", "_") or mtype
    try:
        return TransformerConfig(
            name=name,
            hidden=hidden,
            heads=heads,
            kv_heads=kv_heads,
            ffn=ffn,
            gated=gated,
            layers=pos(k_layers),
            vocab=pos("vocab_size"),
            head_dim=head_dim,
            bits=(_DTYPE_BITS[dtype],) * 3,
            source=f"Hugging Face config {source} (model_type {mtype})",
        )
    except (TypeError, ValueError) as e:  # e.g. kv heads not dividing heads
        raise WorkloadError(f"{source}: {e}") from e


def kv_cache_bytes(config: TransformerConfig, kv_len: int, batch: int = 1) -> int:
    """Bytes of the K and V caches of every layer: ``2 x layers x batch x kv_len x kv_heads x head_dim x bytes``."""
    return 2 * config.layers * batch * kv_len * config.kv_heads * config.d_head * math.ceil(config.bits[1] / 8)
