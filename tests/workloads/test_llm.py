"""LLM serving passes (issue 17): batch semantics of matmul, prefill / decode with a KV cache,
zoo entries against cited MACs, Hugging Face configs."""

import json

import pytest

import costmodels
import workloads
from jaxdse.heuristic import default_mapping
from workloads import TransformerConfig, WorkloadError, from_dict, from_hf_config, get, kv_cache_bytes, matmul
from workloads.llm import GPT2_MEDIUM, LLAMA2_7B

TOLERANCE = 0.02


# ------------------------------------------------------- matmul batch semantics
def test_matmul_with_batch_must_say_what_its_second_operand_is():
    with pytest.raises(ValueError, match=r"field 'b_shared' expected True .* or False .* found None"):
        matmul("scores", m=1, k=128, n=1024, heads=32, batch=8)
    with pytest.raises(TypeError, match="'b_shared'"):
        matmul("scores", m=1, k=128, n=1024, heads=32, batch=8, b_shared="no")
    # batch 1: both readings are one loop nest, so no flag is needed
    assert matmul("s", m=4, k=8, n=16, heads=2).sizes == matmul("s", m=4, k=8, n=16, heads=2, b_shared=False).sizes


def test_per_sample_second_operand_folds_batch_into_groups():
    per = matmul("ctx", m=1, k=1024, n=128, heads=32, batch=8, b_shared=False)
    shared = matmul("ctx", m=1, k=1024, n=128, heads=32, batch=8, b_shared=True)
    assert (per.size("N"), per.size("G")) == (1, 256) and (shared.size("N"), shared.size("G")) == (8, 32)
    assert per.macs == shared.macs
    # the second operand (V: kv x head_dim per head and sequence, 2 bytes) is 8x larger per sample
    assert per.compulsory_bytes()["weights"] == 8 * 32 * 1024 * 128 * 2
    assert per.compulsory_bytes()["weights"] == 8 * shared.compulsory_bytes()["weights"]


def test_loader_refuses_ambiguous_batched_matmul():
    spec = {"name": "att", "layers": [{"type": "matmul", "m": 1, "k": 64, "n": 256, "heads": 4, "batch": 8}]}
    with pytest.raises(WorkloadError, match=r"layers\[0\].*'b_shared' expected"):
        from_dict(spec)
    spec["layers"][0]["b_shared"] = "false"
    with pytest.raises(WorkloadError, match=r"'layers\[0\]\.b_shared' expected true or false, found 'false'"):
        from_dict(spec)
    spec["layers"][0]["b_shared"] = False
    assert from_dict(spec).layers[0].size("G") == 32


def test_decode_attention_at_batch_8_reads_every_sequences_kv_cache():
    """The 7.2x fault of issue 17: decode attention at batch 8 costed as if the 8 sequences shared
    one K/V. Whatever the mapping, latency cannot beat moving each sequence's K cache off-chip once
    (the layer's DMA roofline); the shared reading moved an eighth of it."""
    arch = costmodels.preset("explainable_default")
    net = workloads.get("llama2_7b_decode", batch=8)
    scores = next(layer for layer in net.layers if layer.name.endswith("attn.scores"))
    k_cache = 8 * 32 * 4096 * 128 * 2  # batch x KV heads x kv_len x head_dim x 2 bytes (one layer's K)
    assert scores.compulsory_bytes()["weights"] == k_cache
    assert dict(net.items())[scores] == 32  # once per block
    costs = costmodels.evaluate(arch, costmodels.layer_arrays(scores), default_mapping(scores, arch))
    bytes_per_cycle = float(arch.dram_bytes_per_cycle)
    assert float(costs.latency_cycles) >= k_cache / bytes_per_cycle
    # the old reading (K shared over the batch) is far cheaper: what the fault reported
    old = matmul("old", m=1, k=128, n=4096, heads=32, batch=8, b_shared=True)
    old_costs = costmodels.evaluate(arch, costmodels.layer_arrays(old), default_mapping(old, arch))
    assert float(costs.latency_cycles) > 4 * float(old_costs.latency_cycles)


@pytest.mark.parametrize("name", ["bert_base", "vit_b16", "transformer", "wav2vec2_base"])
def test_zoo_attention_is_per_sequence_at_batch(name):
    one, four = get(name), get(name, batch=4)
    assert four.macs == 4 * one.macs
    for layer in four.layers:
        if layer.kind == "matmul":  # attention: K/V per sequence, batch folded into the groups
            twin = next(x for x in one.layers if x.name == layer.name)
            assert (layer.size("N"), layer.size("G")) == (1, 4 * twin.size("G"))
            assert layer.compulsory_bytes()["weights"] == 4 * twin.compulsory_bytes()["weights"]
        else:
            assert layer.size("N") == 4


# --------------------------------------------------------------- generators
def _chinchilla_forward_macs(cfg: TransformerConfig, q: int, kv: int, batch: int) -> int:
    """Hoffmann et al. 2022 (Chinchilla), Appendix F, per sequence, in MACs (their FLOPs / 2), written
    independently of the generator: K/Q/V projections, QK logits, softmax @ value, final linear, dense
    (for a gated FFN three d x ffn matrices), final logits (here on the last token only). Their
    embedding matmul and softmax are dropped (look-up, no MACs); K/V projections are h_kv / h smaller."""
    d, h, hkv, hd = cfg.hidden, cfg.heads, cfg.kv_heads, cfg.d_head
    qkv = q * d * (h + 2 * hkv) * hd
    logits = attend = q * kv * h * hd
    final_linear = q * h * hd * d
    dense = (3 if cfg.gated else 2) * q * d * cfg.ffn
    return batch * (cfg.layers * (qkv + logits + attend + final_linear + dense) + d * cfg.vocab)


@pytest.mark.parametrize("cfg", [GPT2_MEDIUM, LLAMA2_7B, LLAMA2_7B.replace(kv_heads=8, name="gqa")])
@pytest.mark.parametrize(("phase", "length", "batch"), [("prefill", 128, 2), ("decode", 777, 3)])
def test_passes_match_chinchilla_appendix_f(cfg, phase, length, batch):
    net = getattr(cfg, phase)(length, batch)
    q = length if phase == "prefill" else 1
    assert net.macs == _chinchilla_forward_macs(cfg, q, length, batch)
    assert net.phase == phase and net.sequences == batch and net.tokens_per_pass == batch * q
    assert net.num_layers == cfg.layers * (9 if cfg.gated else 8) + 1


# Published parameter counts: GPT-2 medium 355M (openai-community/gpt2-medium model card, "the 355M
# parameter version of GPT-2"); LLaMA-7B 6.7B (Touvron et al. 2023a, Table 2; Llama 2 7B has the same
# architecture, Touvron et al. 2023b, sec. 2.2). Per generated token a forward pass does one MAC per
# matmul weight (Kaplan et al. 2020, Table 1: C_forward ~ 2N FLOPs) plus attention over the context,
# 2 x layers x kv x heads x head_dim MACs (Hoffmann et al. 2022, App. F). Look-up tables hold
# parameters but do no MACs: GPT-2's position table (1024 x 1024; its token table is tied to the LM
# head, which is a matmul), LLaMA's input token table (32000 x 4096; its LM head is separate).
PUBLISHED = {"gpt2_medium": (GPT2_MEDIUM, 355e6, 1024 * 1024), "llama2_7b": (LLAMA2_7B, 6.7e9, 32000 * 4096)}


@pytest.mark.parametrize("model", sorted(PUBLISHED))
def test_zoo_llm_macs_match_published_parameters(model):
    cfg, params, lookup = PUBLISHED[model]
    per_token_weights = params - lookup
    lm_head = cfg.hidden * cfg.vocab
    attn_per_token = lambda kv: 2 * cfg.layers * kv * cfg.heads * cfg.d_head  # noqa: E731
    for phase in ("prefill", "decode"):
        net = get(f"{model}_{phase}", batch=2)
        assert "Batch 2" in net.notes and net.sequences == 2
        if phase == "decode":
            kv = next(x for x in net.layers if x.name.endswith("scores")).size("K")  # K = keys attended
            expected = 2 * (per_token_weights + attn_per_token(kv))
        else:
            s = net.layers[0].size("P")  # q_proj: P = prompt tokens
            expected = 2 * (s * (per_token_weights - lm_head) + lm_head + s * attn_per_token(s))
        assert abs(net.macs / expected - 1) <= TOLERANCE, f"{model} {phase}: {net.macs:.4g} vs {expected:.4g}"


def test_zoo_llm_lengths_are_the_stated_ones():
    lengths = {
        "gpt2_medium_prefill": ("P", 512),
        "gpt2_medium_decode": ("K", 1024),
        "llama2_7b_prefill": ("P", 2048),
        "llama2_7b_decode": ("K", 4096),
    }
    for name, (dim, n) in lengths.items():
        net = get(name)
        scores = next(layer for layer in net.layers if layer.name.endswith("scores"))
        assert scores.size(dim) == n and f"{n}" in net.notes


def test_decode_reads_the_kv_cache_as_operand_traffic_and_gqa_shrinks_it():
    mha, gqa = LLAMA2_7B, LLAMA2_7B.replace(name="gqa", kv_heads=8)
    for cfg in (mha, gqa):
        net = cfg.decode(2048, batch=4)
        attn = [(layer, c) for layer, c in net.items() if layer.kind == "matmul"]
        read = sum(layer.compulsory_bytes()["weights"] * c for layer, c in attn)
        assert read == kv_cache_bytes(cfg, 2048, batch=4)  # K in scores + V in context, every layer
    assert kv_cache_bytes(gqa, 2048, 4) * 4 == kv_cache_bytes(mha, 2048, 4)
    assert gqa.decode(2048, 4).macs < mha.decode(2048, 4).macs  # only the smaller K/V projections


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="'kv_heads' expected a divisor of heads=32, found 5"):
        LLAMA2_7B.replace(kv_heads=5)
    with pytest.raises(ValueError, match="'kv_len'"):
        LLAMA2_7B.decode(0)
    with pytest.raises(TypeError, match="'gated'"):
        LLAMA2_7B.replace(gated=1)


def test_network_phase_fields_validated_and_round_trip(tmp_path):
    net = GPT2_MEDIUM.replace(layers=1).decode(16, batch=3)
    back = workloads.load(workloads.dump(net, tmp_path / "d.yaml"))
    assert (back.phase, back.sequences, back.tokens_per_pass, back.macs) == ("decode", 3, 3, net.macs)
    with pytest.raises(ValueError, match="'tokens_per_pass' expected 3"):
        net.replace(tokens_per_pass=6)
    with pytest.raises(ValueError, match="'phase' expected"):
        net.replace(phase="train")
    bad = net.to_dict() | {"phase": "training"}
    with pytest.raises(WorkloadError, match="field 'phase' expected one of"):
        from_dict(bad)
    with pytest.raises(WorkloadError, match="field 'sequences' expected no value unless 'phase'"):
        from_dict({k: v for k, v in net.to_dict().items() if k != "phase"})


# ----------------------------------------------------------- Hugging Face
LLAMA2_7B_HF = {  # meta-llama/Llama-2-7b-hf config.json (the keys this reader uses)
    "model_type": "llama",
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 32,
    "vocab_size": 32000,
    "torch_dtype": "float16",
    "hidden_act": "silu",
}
GPT2_MEDIUM_HF = {  # openai-community/gpt2-medium config.json
    "model_type": "gpt2",
    "n_embd": 1024,
    "n_head": 16,
    "n_layer": 24,
    "n_ctx": 1024,
    "vocab_size": 50257,
    "activation_function": "gelu_new",
}


def test_from_hf_config_matches_the_zoo_configs(tmp_path):
    llama = from_hf_config(LLAMA2_7B_HF)
    gpt2 = from_hf_config(GPT2_MEDIUM_HF)
    assert llama.decode(4096).macs == get("llama2_7b_decode").macs
    assert gpt2.prefill(512).macs == get("gpt2_medium_prefill").macs
    assert gpt2.ffn == 4 * 1024 and not gpt2.gated and llama.gated
    path = tmp_path / "config.json"
    path.write_text(json.dumps(LLAMA2_7B_HF | {"num_key_value_heads": 8, "_name_or_path": "org/My-Model"}))
    cfg = from_hf_config(path)
    assert (cfg.kv_heads, cfg.name) == (8, "My_Model")
    assert cfg.replace(layers=2).prefill(64).num_layers == 2 * 9 + 1


@pytest.mark.parametrize(
    ("patch", "needle"),
    [
        ({"model_type": "bert"}, "field 'model_type' expected one of"),
        ({"hidden_size": None}, "field 'hidden_size' expected a positive int"),
        ({"num_attention_heads": "32"}, "field 'num_attention_heads' expected a positive int .* found '32'"),
        ({"torch_dtype": "int8"}, "field 'torch_dtype' expected one of"),
        ({"num_key_value_heads": 5}, "'kv_heads' expected a divisor of heads=32, found 5"),
    ],
)
def test_from_hf_config_errors_name_the_key(patch, needle):
    with pytest.raises(WorkloadError, match=needle):
        from_hf_config(LLAMA2_7B_HF | patch)


def test_from_hf_config_missing_key_and_file():
    cfg = {k: v for k, v in LLAMA2_7B_HF.items() if k != "intermediate_size"}
    with pytest.raises(WorkloadError, match=r"'intermediate_size' expected .* found nothing \(key missing\)"):
        from_hf_config(cfg)
    with pytest.raises(WorkloadError, match="nonexistent"):
        from_hf_config("/nonexistent/config.json")
    with pytest.raises(WorkloadError, match="'<top level>'"):
        from_hf_config([1, 2])
