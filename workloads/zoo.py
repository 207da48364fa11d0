"""Model zoo: well-known networks generated from their architecture definitions.

Every network is built from its paper's block list (widths, repeats, strides,
kernel sizes, expansion ratios), never from a hand-typed layer table, and
layers of identical shape are merged into counts by ``Network.from_layers``.

Settings shared by all networks (also written into each ``Network.notes``):

* Batch size 1 unless ``get(name, batch=...)`` says otherwise.
* Vision networks take a 3x224x224 image; their classifier FC layers
  (ImageNet-1k, 1000 classes) are included.
* BERT-base: 128 tokens (the usual GLUE fine-tuning length), encoder plus the
  pooler; no task head.
* ViT-B/16: 196 patches + 1 class token = 197 tokens; the head reads the class
  token only.
* Transformer-base (en-de): 30 source and 30 target tokens (the "sentence of
  30 words" of Wang et al. 2020, HAT, sec. 1). The decoder is one parallel
  (teacher-forced) pass over the 30 target tokens; its projections and FFN
  cost the same as greedy decoding with a key/value cache, while its causal
  self-attention is counted as the full 30x30 square. The pre-softmax output
  projection onto the 37000-token shared BPE vocabulary is included.
* wav2vec 2.0 base: 1 s of 16 kHz audio (16000 samples) -> 49 frames; CTC head
  onto the 32-symbol character vocabulary of the fine-tuned model included.

Not modelled: pooling, softmax, normalisation (batch / layer / group norm),
element-wise adds, activations and scalings (incl. the SE gate multiply),
embedding and positional-table look-ups. They perform no multiply-accumulates,
so in this MAC-centric loop-nest model they are dropped, not approximated.

With ``batch > 1`` every sequence has its own keys and values: attention-score
and context matmuls are built with ``b_shared=False`` (``workloads.layer.matmul``),
so batch and heads fold into the groups (G = heads x batch) and the K/V operand
is read once per sequence. (Before issue 17 they shared it over the batch, which
undercounted that traffic by the batch factor; MAC totals were and are exact.)

LLM serving networks (GPT-2 medium, a LLaMA-2-7B-style model; prefill and
decode phases) come from ``workloads.llm``; see ``LLM_ENTRIES`` there.
"""

from __future__ import annotations

from collections.abc import Callable

from workloads.errors import WorkloadError
from workloads.layer import Layer, conv2d, conv_out_extent, linear, matmul
from workloads.llm import LLM_ENTRIES, zoo_builder
from workloads.network import Network

Builder = Callable[[int], Network]
"""A zoo entry: ``builder(batch) -> Network``."""

_NOT_MODELLED = (
    "Not modelled (dropped, they have no MACs in this MAC-centric model): pooling, softmax, "
    "batch/layer/group norm, element-wise adds, activations and scalings, embedding look-ups."
)


class _Stack:
    """Collects layers in order and tracks feature-map sizes for one network."""

    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.layers: list[Layer] = []

    def conv(
        self,
        name: str,
        cin: int,
        cout: int,
        hw: tuple[int, int],
        kernel: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | None = None,
        groups: int = 1,
    ) -> tuple[int, int]:
        """Append a convolution; returns the output (rows, cols)."""
        layer = conv2d(name, cin, cout, hw, kernel, stride, padding, groups=groups, batch=self.batch)
        self.layers.append(layer)
        return layer.size("P"), layer.size("Q")

    def linear(self, name: str, fin: int, fout: int, tokens: int = 1) -> None:
        self.layers.append(linear(name, fin, fout, tokens=tokens, batch=self.batch))

    def transformer(
        self, prefix: str, d_model: int, heads: int, d_ff: int, seq_len: int, memory_len: int | None = None
    ) -> None:
        self.layers += transformer_block(prefix, d_model, heads, d_ff, seq_len, memory_len, batch=self.batch)

    def build(self, name: str, notes: str) -> Network:
        return Network.from_layers(name, self.layers, notes=f"{notes} Batch {self.batch}. {_NOT_MODELLED}")


def _pool_hw(hw: tuple[int, int], kernel: int, stride: int, padding: int) -> tuple[int, int]:
    """Output size of a max-pool (no MACs, but it shrinks the feature map)."""
    return tuple(conv_out_extent(x, kernel, stride, padding, 1) for x in hw)


# --------------------------------------------------------------- transformer
def transformer_block(
    prefix: str,
    d_model: int,
    heads: int,
    d_ff: int,
    seq_len: int,
    memory_len: int | None = None,
    batch: int = 1,
) -> list[Layer]:
    """Layers of one transformer layer: self-attention, optional cross-attention, FFN.

    Q, K, V and output projections are ``linear`` over the tokens; attention
    scores ``[seq, d_head] @ [d_head, kv]`` and context ``[seq, kv] @ [kv, d_head]``
    are per-head ``matmul`` (Vaswani et al. 2017, sec. 3.2.2). ``memory_len``
    adds decoder cross-attention whose K/V projections run over the memory.
    Useful with ``register`` for transformers not in the zoo.

    Raises:
        ValueError: ``heads`` does not divide ``d_model``.
    """
    if d_model % heads:
        raise ValueError(f"transformer_block: field 'heads' expected a divisor of d_model={d_model}, found {heads}")
    d_head = d_model // heads
    attn = [("attn", seq_len)] + ([("cross_attn", memory_len)] if memory_len is not None else [])
    layers = []
    for part, kv_len in attn:
        p = f"{prefix}.{part}"
        layers += [
            linear(f"{p}.q_proj", d_model, d_model, tokens=seq_len, batch=batch),
            linear(f"{p}.k_proj", d_model, d_model, tokens=kv_len, batch=batch),
            linear(f"{p}.v_proj", d_model, d_model, tokens=kv_len, batch=batch),
            # each sequence attends over its own keys and values: per-sample second operand
            matmul(f"{p}.scores", m=seq_len, k=d_head, n=kv_len, heads=heads, batch=batch, b_shared=False),
            matmul(f"{p}.context", m=seq_len, k=kv_len, n=d_head, heads=heads, batch=batch, b_shared=False),
            linear(f"{p}.out_proj", d_model, d_model, tokens=seq_len, batch=batch),
        ]
    return layers + [
        linear(f"{prefix}.ffn.fc1", d_model, d_ff, tokens=seq_len, batch=batch),
        linear(f"{prefix}.ffn.fc2", d_ff, d_model, tokens=seq_len, batch=batch),
    ]


# -------------------------------------------------------------------- ResNet
def _resnet(name: str, depths: tuple[int, ...], bottleneck: bool, batch: int) -> Network:
    # He et al. 2016, Table 1: conv1 7x7/2, 3x3/2 max-pool, stages conv2_x..conv5_x
    # of widths 64..512 (x4 out for bottlenecks), first block of conv3_x..conv5_x
    # strided. Stride on the 3x3 of a bottleneck = torchvision's "v1.5".
    s = _Stack(batch)
    hw = s.conv("conv1", 3, 64, (224, 224), kernel=7, stride=2, padding=3)
    hw = _pool_hw(hw, 3, 2, 1)
    expansion = 4 if bottleneck else 1
    cin = 64
    for stage, (width, blocks) in enumerate(zip((64, 128, 256, 512), depths, strict=True)):
        for b in range(blocks):
            stride = 2 if stage > 0 and b == 0 else 1
            p = f"conv{stage + 2}_x.b{b + 1}"
            cout = width * expansion
            if bottleneck:
                h = s.conv(f"{p}.conv1", cin, width, hw, kernel=1)
                h = s.conv(f"{p}.conv2", width, width, h, kernel=3, stride=stride)
                out = s.conv(f"{p}.conv3", width, cout, h, kernel=1)
            else:
                h = s.conv(f"{p}.conv1", cin, width, hw, kernel=3, stride=stride)
                out = s.conv(f"{p}.conv2", width, width, h, kernel=3)
            if stride != 1 or cin != cout:  # projection shortcut (option B of He et al. 2016)
                s.conv(f"{p}.downsample", cin, cout, hw, kernel=1, stride=stride)
            hw, cin = out, cout
    s.linear("fc", cin, 1000)
    variant = ", torchvision v1.5 (stride on the 3x3 conv)" if bottleneck else ""
    return s.build(name, f"{name} (He et al. 2016, Table 1){variant}; input 3x224x224; classifier FC included.")


def resnet18(batch: int = 1) -> Network:
    return _resnet("resnet18", (2, 2, 2, 2), bottleneck=False, batch=batch)


def resnet50(batch: int = 1) -> Network:
    return _resnet("resnet50", (3, 4, 6, 3), bottleneck=True, batch=batch)


# -------------------------------------------------- MobileNetV2, EfficientNet
def _inverted_residual(
    s: _Stack, p: str, cin: int, cout: int, hw: tuple[int, int], expand: int, kernel: int, stride: int, se: bool
) -> tuple[int, int]:
    """MBConv: 1x1 expand (if expand > 1), depthwise kxk, optional SE, 1x1 project."""
    mid = cin * expand
    if expand != 1:
        hw = s.conv(f"{p}.expand", cin, mid, hw, kernel=1)
    hw = s.conv(f"{p}.dw", mid, mid, hw, kernel=kernel, stride=stride, groups=mid)
    if se:  # squeeze to a quarter of the block's input channels (Tan & Le 2019, se_ratio 0.25)
        squeeze = max(1, cin // 4)
        s.linear(f"{p}.se.reduce", mid, squeeze)
        s.linear(f"{p}.se.expand", squeeze, mid)
    return s.conv(f"{p}.project", mid, cout, hw, kernel=1)


def _mobile_net(
    stem: int, head: int, blocks: tuple[tuple[int, int, int, int, int], ...], se: bool, batch: int
) -> _Stack:
    """Stem 3x3/2 conv, MBConv stages ``(expand, channels, repeats, stride, kernel)``, 1x1 head, FC."""
    s = _Stack(batch)
    hw = s.conv("stem", 3, stem, (224, 224), kernel=3, stride=2)
    cin = stem
    for stage, (t, c, n, stride, k) in enumerate(blocks):
        for b in range(n):
            hw = _inverted_residual(s, f"stage{stage + 1}.b{b + 1}", cin, c, hw, t, k, stride if b == 0 else 1, se)
            cin = c
    s.conv("head", cin, head, hw, kernel=1)
    s.linear("fc", head, 1000)
    return s


def mobilenet_v2(batch: int = 1) -> Network:
    # Sandler et al. 2018, Table 2: (t, c, n, s) rows, all depthwise kernels 3x3.
    rows = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
    s = _mobile_net(32, 1280, tuple(r + (3,) for r in rows), se=False, batch=batch)
    return s.build("mobilenet_v2", "MobileNetV2 1.0 (Sandler et al. 2018, Table 2); input 3x224x224; FC included.")


def efficientnet_b0(batch: int = 1) -> Network:
    # Tan & Le 2019, Table 1: MBConv(expand, channels, layers, stride, kernel), SE in every block.
    rows = (
        (1, 16, 1, 1, 3),
        (6, 24, 2, 2, 3),
        (6, 40, 2, 2, 5),
        (6, 80, 3, 2, 3),
        (6, 112, 3, 1, 5),
        (6, 192, 4, 2, 5),
        (6, 320, 1, 1, 3),
    )
    s = _mobile_net(32, 1280, rows, se=True, batch=batch)
    return s.build(
        "efficientnet_b0",
        "EfficientNet-B0 (Tan & Le 2019, Table 1) with squeeze-and-excitation FCs; input 3x224x224; FC included.",
    )


# ---------------------------------------------------------------------- VGG
def vgg16(batch: int = 1) -> Network:
    # Simonyan & Zisserman 2015, Table 1 config D: 3x3 convs, "M" = 2x2/2 max-pool, FC-4096 x2, FC-1000.
    config = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
    s = _Stack(batch)
    hw, cin, block, idx = (224, 224), 3, 1, 1
    for item in config:
        if item == "M":
            hw, block, idx = _pool_hw(hw, 2, 2, 0), block + 1, 1
            continue
        s.conv(f"conv{block}_{idx}", cin, item, hw, kernel=3)
        cin, idx = item, idx + 1
    s.linear("fc6", cin * hw[0] * hw[1], 4096)
    s.linear("fc7", 4096, 4096)
    s.linear("fc8", 4096, 1000)
    return s.build("vgg16", "VGG-16 (Simonyan & Zisserman 2015, config D); input 3x224x224; FC layers included.")


# -------------------------------------------------------------- transformers
def vit_b16(batch: int = 1) -> Network:
    # Dosovitskiy et al. 2021, Table 1 (ViT-Base): 12 layers, hidden 768, MLP 3072, 12 heads; 16x16 patches.
    s = _Stack(batch)
    hw = s.conv("patch_embed", 3, 768, (224, 224), kernel=16, stride=16, padding=0)
    tokens = hw[0] * hw[1] + 1  # 196 patches + class token
    for i in range(12):
        s.transformer(f"layer{i + 1}", 768, 12, 3072, tokens)
    s.linear("head", 768, 1000)  # class token only
    return s.build(
        "vit_b16", f"ViT-B/16 (Dosovitskiy et al. 2021, Table 1); input 3x224x224, {tokens} tokens; head FC."
    )


def _bert(name: str, layers: int, hidden: int, heads: int, d_ff: int, seq_len: int, batch: int) -> Network:
    s = _Stack(batch)
    for i in range(layers):
        s.transformer(f"layer{i + 1}", hidden, heads, d_ff, seq_len)
    s.linear("pooler", hidden, hidden)  # [CLS] token only
    return s.build(name, f"{name} encoder ({layers} layers, hidden {hidden}), {seq_len} tokens; pooler, no task head.")


def bert_base(batch: int = 1) -> Network:
    # Devlin et al. 2019, sec. 3: BERT-base L=12, H=768, A=12, FFN 4H.
    return _bert("bert_base", 12, 768, 12, 3072, 128, batch)


def transformer(batch: int = 1) -> Network:
    # Vaswani et al. 2017, Table 3 "base": N=6, d_model=512, d_ff=2048, h=8; shared BPE vocabulary
    # of about 37000 tokens for en-de (sec. 5.1). Lengths: see the module docstring.
    src, tgt, vocab = 30, 30, 37000
    s = _Stack(batch)
    for i in range(6):
        s.transformer(f"encoder.layer{i + 1}", 512, 8, 2048, src)
    for i in range(6):
        s.transformer(f"decoder.layer{i + 1}", 512, 8, 2048, tgt, memory_len=src)
    s.linear("generator", 512, vocab, tokens=tgt)
    return s.build(
        "transformer",
        f"Transformer-base en-de (Vaswani et al. 2017, Table 3); {src} source / {tgt} target tokens, decoder as "
        f"one teacher-forced pass; pre-softmax projection onto {vocab} BPE tokens included.",
    )


def wav2vec2_base(batch: int = 1) -> Network:
    # Baevski et al. 2020, sec. 2 and 4.2: feature encoder of 7 temporal convs, 512 channels,
    # kernels (10,3,3,3,3,2,2), strides (5,2,2,2,2,2,2), no padding; projection to 768;
    # positional conv (kernel 128, 16 groups, padding 64); BASE: 12 blocks, d_model 768, FFN 3072.
    # Sec. 4.2 says 8 heads; the released BASE checkpoint uses 12. Heads change only the
    # score/context matmul shapes, not their MACs; we follow the released model.
    s = _Stack(batch)
    hw, cin = (1, 16000), 1  # 1 s at 16 kHz, as a 1 x T "image"
    for i, (k, st) in enumerate(zip((10, 3, 3, 3, 3, 2, 2), (5, 2, 2, 2, 2, 2, 2), strict=True)):
        hw = s.conv(f"feature.conv{i}", cin, 512, hw, kernel=(1, k), stride=(1, st), padding=0)
        cin = 512
    frames = hw[1]
    s.linear("feature.proj", 512, 768, tokens=frames)
    # The positional conv computes frames + 1 outputs; the last is dropped afterwards (counted: it is computed).
    s.conv("pos_conv", 768, 768, hw, kernel=(1, 128), padding=(0, 64), groups=16)
    for i in range(12):
        s.transformer(f"layer{i + 1}", 768, 12, 3072, frames)
    s.linear("ctc_head", 768, 32, tokens=frames)
    return s.build(
        "wav2vec2_base",
        f"wav2vec 2.0 BASE (Baevski et al. 2020); 1 s of 16 kHz audio -> {frames} frames; CTC head (32 symbols).",
    )


# ------------------------------------------------------------------ registry
_REGISTRY: dict[str, Builder] = {
    "resnet18": resnet18,
    "resnet50": resnet50,
    "mobilenet_v2": mobilenet_v2,
    "efficientnet_b0": efficientnet_b0,
    "vgg16": vgg16,
    "vit_b16": vit_b16,
    "bert_base": bert_base,
    "transformer": transformer,
    "wav2vec2_base": wav2vec2_base,
    **{name: zoo_builder(name) for name in LLM_ENTRIES},
}


def names() -> list[str]:
    """Names ``get`` accepts, sorted."""
    return sorted(_REGISTRY)


def register(name: str, builder: Builder, *, overwrite: bool = False) -> None:
    """Add a network to the zoo: ``builder(batch) -> Network``.

    Raises:
        TypeError: ``name`` is not a non-empty str or ``builder`` is not callable.
        ValueError: ``name`` is already registered and ``overwrite`` is False.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"zoo.register: field 'name' expected a non-empty str, found {name!r}")
    if not callable(builder):
        raise TypeError(
            f"zoo.register: field 'builder' expected a callable builder(batch) -> Network, found {builder!r}"
        )
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"zoo.register: field 'name' expected a new name (or overwrite=True), found {name!r} taken")
    _REGISTRY[name] = builder


def get(name: str, batch: int = 1) -> Network:
    """Build a zoo network by name.

    Args:
        name: One of ``names()``.
        batch: Batch size (loop bound N of every layer).

    Raises:
        WorkloadError: Unknown ``name``, a batch that is not a positive int, or
            one too large for a layer's loop bounds (``workloads.layer.MAX_EXTENT``).
        TypeError: A registered builder did not return a Network.
    """
    if not isinstance(name, str) or name not in _REGISTRY:
        hint = ""
        if isinstance(name, str) and name.lower().endswith((".yaml", ".yml", ".json")):
            hint = " (a workload file: workloads.load(path), or --workload on the command line)"
        raise WorkloadError(f"zoo.get: field 'name' expected one of {names()}, found {name!r}{hint}")
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise WorkloadError(f"zoo.get: field 'batch' expected a positive int, found {batch!r}")
    try:
        net = _REGISTRY[name](batch)
    except WorkloadError:
        raise
    except ValueError as e:  # e.g. a batch so large that a loop bound passes MAX_EXTENT
        raise WorkloadError(
            f"zoo.get: field 'batch' expected a size the network's layers can take, found {batch}: {e}"
        ) from e
    if not isinstance(net, Network):
        raise TypeError(f"zoo.get: builder for {name!r} expected to return a Network, found {type(net).__name__}")
    return net
