"""Model importers: ONNX graphs built with onnx.helper, JAX functions, Flax modules.

Every network is checked against MACs counted by hand from the model's shapes.
"""

from __future__ import annotations

import math
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax import lax

import workloads
from workloads import WorkloadError

# ===================================================================== ONNX


def _onnx():
    return pytest.importorskip("onnx")


def _init(onnx, name, shape, dtype=None):
    dtype = dtype or onnx.TensorProto.FLOAT
    if dtype == onnx.TensorProto.INT64:
        return onnx.helper.make_tensor(name, dtype, [len(shape)], list(shape))
    return onnx.helper.make_tensor(name, dtype, list(shape), np.zeros(math.prod(shape), np.float32).tolist())


def _model(onnx, nodes, inputs, output, inits, name="g"):
    h = onnx.helper
    graph = h.make_graph(
        nodes,
        name,
        [h.make_tensor_value_info(n, onnx.TensorProto.FLOAT, s) for n, s in inputs],
        [h.make_tensor_value_info(output, onnx.TensorProto.FLOAT, None)],
        initializer=inits,
    )
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])


def _cnn(onnx, batch_dim=1):
    """conv (stride 2, asymmetric pads) -> depthwise -> dilated conv -> SAME_UPPER conv -> relu, pool -> gemm."""
    n = onnx.helper.make_node
    nodes = [
        n("Conv", ["x", "w1"], ["y1"], name="c1", strides=[2, 2], pads=[0, 0, 1, 1]),
        n("Conv", ["y1", "w2"], ["y2"], name="dw", group=16, pads=[1, 1, 1, 1]),
        n("Conv", ["y2", "w3"], ["y3"], name="dil", dilations=[2, 2], pads=[2, 2, 2, 2]),
        n("Conv", ["y3", "w4"], ["y4"], name="same", strides=[2, 2], auto_pad="SAME_UPPER"),
        n("Relu", ["y4"], ["r"]),
        n("GlobalAveragePool", ["r"], ["p"]),
        n("Flatten", ["p"], ["f"]),
        n("Gemm", ["f", "wf", "bf"], ["out"], name="fc", transB=1),
    ]
    inits = [
        _init(onnx, "w1", [16, 3, 3, 3]),
        _init(onnx, "w2", [16, 1, 3, 3]),
        _init(onnx, "w3", [8, 16, 3, 3]),
        _init(onnx, "w4", [8, 8, 3, 3]),
        _init(onnx, "wf", [10, 8]),
        _init(onnx, "bf", [10]),
    ]
    return _model(onnx, nodes, [("x", [batch_dim, 3, 32, 32])], "out", inits, name="tiny_cnn")


def _by_name(net):
    return {layer.name: (layer, c) for layer, c in net.items()}


def test_onnx_cnn_layers_and_macs():
    onnx = _onnx()
    net = workloads.from_onnx(_cnn(onnx))
    layers = _by_name(net)
    # (32 + 0 + 1 - 2 - 1) // 2 + 1 = 16 rows and cols; SAME_UPPER: ceil(16 / 2) = 8.
    assert layers["c1"][0].sizes == (1, 1, 16, 3, 16, 16, 3, 3) and layers["c1"][0].stride == (2, 2)
    assert layers["dw"][0].sizes == (1, 16, 1, 1, 16, 16, 3, 3) and layers["dw"][0].kind == "depthwise"
    assert layers["dil"][0].sizes == (1, 1, 8, 16, 16, 16, 3, 3) and layers["dil"][0].dilation == (2, 2)
    assert layers["same"][0].sizes == (1, 1, 8, 8, 8, 8, 3, 3)
    assert layers["fc"][0].sizes == (1, 1, 10, 8, 1, 1, 1, 1) and layers["fc"][0].kind == "linear"
    expected = 16 * 3 * 16 * 16 * 9 + 16 * 16 * 16 * 9 + 8 * 16 * 16 * 16 * 9 + 8 * 8 * 8 * 8 * 9 + 8 * 10
    assert net.macs == expected
    assert net.name == "tiny_cnn"
    assert "Relu x1" in net.notes and "GlobalAveragePool x1" in net.notes


def test_onnx_conv_arithmetic_matches_onnx_shape_inference():
    onnx = _onnx()
    inferred = onnx.shape_inference.infer_shapes(_cnn(onnx))
    shapes = {vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim] for vi in inferred.graph.value_info}
    layers = _by_name(workloads.from_onnx(_cnn(onnx)))
    for node, out in (("c1", "y1"), ("dw", "y2"), ("dil", "y3"), ("same", "y4")):
        layer = layers[node][0]
        assert [layer.size("N"), layer.size("G") * layer.size("K"), layer.size("P"), layer.size("Q")] == shapes[out]


def test_onnx_batch_override_and_dynamic_dims(tmp_path):
    onnx = _onnx()
    model = _cnn(onnx, batch_dim="N")
    with pytest.raises(WorkloadError, match=r"graph\.input\[x\]\.shape\[0\].*'N'.*batch="):
        workloads.from_onnx(model)
    net1 = workloads.from_onnx(_cnn(onnx))
    net4 = workloads.from_onnx(model, batch=4)
    assert net4.macs == 4 * net1.macs
    assert _by_name(net4)["fc"][0].size("P") == 4  # Gemm rows = the batch
    assert "batch dim set to 4" in net4.notes
    # the caller's model is not modified
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    # a dynamic non-leading dim needs fixing in the model, batch= does not help
    model.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "H"
    with pytest.raises(WorkloadError, match=r"graph\.input\[x\]\.shape\[2\].*'H'"):
        workloads.from_onnx(model, batch=4)


def _attention(onnx, b=2, t=16, d=32, h=4):
    """Self-attention with 2-D weight MatMuls and [B, H, T, hd] x [B, H, hd, T] score/context MatMuls."""
    hd = d // h
    n = onnx.helper.make_node
    nodes = []
    for p in "qkv":
        nodes += [
            n("MatMul", ["x", f"w{p}"], [f"{p}0"], name=f"proj_{p}"),
            n("Reshape", [f"{p}0", "split"], [f"{p}1"]),
        ]
    nodes += [
        n("Transpose", ["q1"], ["q"], perm=[0, 2, 1, 3]),
        n("Transpose", ["k1"], ["kt"], perm=[0, 2, 3, 1]),
        n("Transpose", ["v1"], ["v"], perm=[0, 2, 1, 3]),
        n("MatMul", ["q", "kt"], ["s"], name="scores"),
        n("Softmax", ["s"], ["a"], axis=-1),
        n("MatMul", ["a", "v"], ["c"], name="context"),
        n("Transpose", ["c"], ["c1"], perm=[0, 2, 1, 3]),
        n("Reshape", ["c1", "merge"], ["c2"]),
        n("MatMul", ["c2", "wo"], ["out"], name="proj_o"),
    ]
    inits = [_init(onnx, f"w{p}", [d, d]) for p in "qkvo"]
    inits += [_init(onnx, "split", [b, t, h, hd], onnx.TensorProto.INT64)]
    inits += [_init(onnx, "merge", [b, t, d], onnx.TensorProto.INT64)]
    return _model(onnx, nodes, [("x", [b, t, d])], "out", inits, name="attn")


def test_onnx_attention_matmuls():
    onnx = _onnx()
    b, t, d, h = 2, 16, 32, 4
    net = workloads.from_onnx(_attention(onnx, b, t, d, h))
    layers = _by_name(net)
    proj, count = layers["proj_q"]
    assert count == 4 and proj.kind == "linear"  # q, k, v, o projections merge
    assert proj.sizes == (1, 1, d, d, b * t, 1, 1, 1)  # [B, T, D] @ [D, D]: batch folded into rows
    scores = layers["scores"][0]
    assert scores.kind == "matmul" and scores.sizes == (1, b * h, t, d // h, t, 1, 1, 1)
    context = layers["context"][0]
    assert context.kind == "matmul" and context.sizes == (1, b * h, d // h, t, t, 1, 1, 1)
    assert net.macs == 4 * b * t * d * d + 2 * b * h * t * t * (d // h)
    assert "Softmax x1" in net.notes


def test_onnx_broadcast_matmul_and_transposed_gemm():
    onnx = _onnx()
    n = onnx.helper.make_node
    nodes = [
        # [2, 3, 5, 8] @ [3, 8, 4]: B broadcast over the leading 2 -> rows, 3 heads
        n("MatMul", ["x", "y"], ["z"], name="bmm"),
        n("Gemm", ["a", "wg"], ["g"], name="gemm", transA=1),  # A is [K=6, M=7]
    ]
    model = _model(
        onnx, nodes, [("x", [2, 3, 5, 8]), ("y", [3, 8, 4]), ("a", [6, 7])], "z", [_init(onnx, "wg", [6, 9])]
    )
    layers = _by_name(workloads.from_onnx(model))
    assert layers["bmm"][0].sizes == (1, 3, 4, 8, 10, 1, 1, 1) and layers["bmm"][0].kind == "matmul"
    assert layers["gemm"][0].sizes == (1, 1, 9, 6, 7, 1, 1, 1) and layers["gemm"][0].kind == "linear"


def test_onnx_skips_ops_with_macs_and_warns():
    onnx = _onnx()
    n = onnx.helper.make_node
    nodes = [
        n("Conv", ["x", "w"], ["y"], name="c"),
        n("ConvTranspose", ["y", "wt"], ["u"], name="up", strides=[2, 2]),
        n("Einsum", ["u", "u"], ["e"], name="gram", equation="bchw,bdhw->bcd"),
    ]
    inits = [_init(onnx, "w", [4, 3, 3, 3]), _init(onnx, "wt", [4, 4, 2, 2])]
    model = _model(onnx, nodes, [("x", [1, 3, 8, 8])], "e", inits)
    with pytest.warns(UserWarning, match="ConvTranspose 'up'"):
        net = workloads.from_onnx(model)
    assert net.macs == 4 * 3 * 6 * 6 * 9
    assert "ConvTranspose 'up'" in net.notes and "Einsum 'gram'" in net.notes


def test_onnx_inlines_local_functions():
    onnx = _onnx()
    h = onnx.helper
    fn = h.make_function("local", "Proj", ["a", "w"], ["b"], [h.make_node("MatMul", ["a", "w"], ["b"])], [])
    nodes = [h.make_node("Proj", ["x", "w"], ["y"], domain="local", name="proj")]
    model = _model(onnx, nodes, [("x", [3, 4])], "y", [_init(onnx, "w", [4, 5])])
    model.opset_import.append(h.make_opsetid("local", 1))
    model.functions.append(fn)
    net = workloads.from_onnx(model)
    assert net.macs == 3 * 4 * 5 and net.layers[0].kind == "linear"


def test_onnx_from_file_and_errors(tmp_path):
    onnx = _onnx()
    path = tmp_path / "cnn.onnx"
    onnx.save(_cnn(onnx), str(path))
    assert workloads.from_onnx(path, name="mine").name == "mine"
    assert workloads.from_onnx(str(path)).macs == workloads.from_onnx(_cnn(onnx)).macs

    with pytest.raises(WorkloadError, match=r"missing\.onnx.*no such file"):
        workloads.from_onnx(tmp_path / "missing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_text("name: not a protobuf\n")
    with pytest.raises(WorkloadError, match=r"bad\.onnx: expected an ONNX model"):
        workloads.from_onnx(bad)
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(WorkloadError, match=r"empty\.onnx.*0 nodes"):
        workloads.from_onnx(empty)
    with pytest.raises(TypeError, match="path_or_model"):
        workloads.from_onnx(123)
    with pytest.raises(ValueError, match="'batch'"):
        workloads.from_onnx(path, batch=0)
    no_macs = _model(onnx, [onnx.helper.make_node("Relu", ["x"], ["y"])], [("x", [1, 4])], "y", [])
    with pytest.raises(WorkloadError, match="Conv, Gemm or MatMul"):
        workloads.from_onnx(no_macs)


def test_onnx_unknown_shape_names_the_node():
    onnx = _onnx()
    n = onnx.helper.make_node
    nodes = [n("Custom", ["x"], ["h"], domain="my.ops"), n("MatMul", ["h", "w"], ["y"], name="after_custom")]
    model = _model(onnx, nodes, [("x", [2, 4])], "y", [_init(onnx, "w", [4, 3])])
    model.opset_import.append(onnx.helper.make_opsetid("my.ops", 1))
    with pytest.raises(WorkloadError, match=r"node 'after_custom' \(MatMul\).*input 0 \(A\) 'h'"):
        workloads.from_onnx(model)


def test_onnx_missing_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"jaxdse\[onnx\]"):
        workloads.from_onnx("model.onnx")


# ====================================================================== JAX


def _conv(x, k, strides=(1, 1), padding="SAME", **kw):
    return lax.conv_general_dilated(x, k, strides, padding, dimension_numbers=("NHWC", "HWIO", "NHWC"), **kw)


def test_from_jax_conv_dense_scan_vmap():
    x = jnp.ones((2, 16, 16, 3))
    k = jnp.ones((3, 3, 3, 8))
    w = jnp.ones((8 * 8 * 8, 16))
    ws = jnp.ones((3, 16, 16))
    a = jnp.ones((4, 10, 6))

    def f(x, k, w, ws, a):
        y = _conv(x, k, strides=(2, 2))  # [2, 8, 8, 8]
        h = y.reshape(2, -1) @ w
        h, _ = lax.scan(lambda c, wi: (jnp.tanh(c @ wi), None), h, ws)  # 3 steps
        att = jax.vmap(lambda q: q @ q.T)(a)  # 4 x [10, 6] @ [6, 10]
        return h, att

    net = workloads.from_jax(f, x, k, w, ws, a, name="mixed")
    shapes = {layer.sizes: c for layer, c in net.items()}
    assert shapes == {
        (2, 1, 8, 3, 8, 8, 3, 3): 1,  # conv, stride 2, SAME
        (1, 1, 16, 512, 2, 1, 1, 1): 1,  # dense
        (1, 1, 16, 16, 2, 1, 1, 1): 3,  # scan body x length 3
        (1, 4, 10, 6, 10, 1, 1, 1): 1,  # vmapped matmul: the vmap axis is a batch dim -> G
    }
    assert net.macs == 2 * 8 * 8 * 8 * 3 * 9 + 2 * 512 * 16 + 3 * 2 * 16 * 16 + 4 * 10 * 6 * 10
    assert net.name == "mixed" and "scan" in net.notes
    assert {layer.kind for layer, _ in net.items()} == {"conv2d", "matmul"}  # arguments are activations

    # closed-over arrays are parameters: the dense layer becomes linear
    closed = workloads.from_jax(lambda x: f(x, k, w, ws, a), x)
    assert closed.macs == net.macs
    assert {layer.kind for layer, _ in closed.items() if layer.size("C") == 512} == {"linear"}


def test_from_jax_nested_calls_cond_while():
    m = jnp.ones((4, 8))
    w = jnp.ones((8, 8))

    @jax.custom_jvp
    def cj(x):
        return x @ w

    cj.defjvp(lambda p, t: (cj(p[0]), t[0] @ w))

    def f(m):
        h = jax.jit(lambda a: a @ w)(m)  # 4*8*8
        h = jax.checkpoint(lambda a: a @ w)(h)  # 4*8*8
        h = cj(h)  # 4*8*8
        inner = lambda c, _: (c @ w, None)  # noqa: E731
        h, _ = lax.scan(lambda c, _: (lax.scan(inner, c, None, length=3)[0], None), h, None, length=2)  # x6
        h = lax.cond(h.sum() > 0, lambda a: (a @ w) @ w, lambda a: a @ w, h)  # max branch: 2 matmuls
        h = lax.while_loop(lambda a: a.sum() < 0, lambda a: a @ w, h)  # once
        return h

    net = workloads.from_jax(f, m)
    one = 4 * 8 * 8
    assert net.macs == (3 + 6 + 2 + 1) * one
    assert net.num_layers == 12 and net.num_unique == 1
    assert "cond" in net.notes and "while_loop bodies are counted once" in net.notes


@pytest.mark.parametrize(
    "lhs, rhs, kw",
    [
        ((2, 9, 9, 4), (3, 3, 2, 6), {"feature_group_count": 2}),
        ((4, 9, 9, 3), (3, 3, 3, 6), {"batch_group_count": 2}),
        ((1, 9, 9, 4), (3, 3, 4, 5), {"rhs_dilation": (2, 2), "padding": ((0, 1), (2, 0))}),
    ],
)
def test_from_jax_conv_variants_macs(lhs, rhs, kw):
    kw = dict(kw)
    padding = kw.pop("padding", "VALID")
    f = lambda x, k: _conv(x, k, padding=padding, **kw)  # noqa: E731
    out = jax.eval_shape(f, jnp.ones(lhs), jnp.ones(rhs)).shape
    # every output element sums over the kernel's receptive field: rhs.size / out_features
    expected = math.prod(out) * math.prod(rhs) // rhs[-1]
    net = workloads.from_jax(f, jnp.ones(lhs), jnp.ones(rhs))
    layer = net.layers[0]
    assert net.macs == expected
    assert (layer.size("P"), layer.size("Q")) == out[1:3]
    assert layer.dilation == kw.get("rhs_dilation", (1, 1))


def test_from_jax_transposed_and_3d_conv():
    x = jnp.ones((1, 8, 8, 4))
    k = jnp.ones((3, 3, 4, 2))
    net = workloads.from_jax(lambda x, k: lax.conv_transpose(x, k, (2, 2), "SAME"), x, k)
    assert net.macs == 16 * 16 * 2 * 4 * 9  # dense over the zero-dilated input
    assert "Transposed convolutions" in net.notes

    x3 = jnp.ones((1, 4, 6, 6, 2))
    k3 = jnp.ones((2, 3, 3, 2, 4))
    f3 = lambda x, k: lax.conv_general_dilated(  # noqa: E731
        x, k, (1, 1, 1), "VALID", dimension_numbers=("NDHWC", "DHWIO", "NDHWC")
    )
    net3 = workloads.from_jax(f3, x3, k3)
    assert net3.layers[0].sizes == (3, 1, 4, 2 * 2, 4, 4, 3, 3)  # out depth -> N, kernel depth -> C
    assert net3.macs == 3 * 4 * 4 * 4 * 2 * 2 * 3 * 3
    assert "more than two spatial dims" in net3.notes


def test_from_jax_skipped_primitive_warns_and_errors():
    x = jnp.ones((4, 8))
    with pytest.warns(UserWarning, match="fft"):
        net = workloads.from_jax(lambda x: jnp.fft.fft(x @ x.T).real, x)
    assert net.macs == 4 * 8 * 4 and "fft x1" in net.notes
    with pytest.raises(WorkloadError, match="conv_general_dilated or dot_general"):
        workloads.from_jax(lambda x: jnp.tanh(x) + 1, x)
    with pytest.raises(TypeError, match="'fn'"):
        workloads.from_jax("not a function", x)


# ===================================================================== Flax


class _CNN(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Conv(8, (3, 3))(x))
        x = nn.relu(nn.Conv(16, (3, 3), strides=2)(x))
        x = nn.Conv(16, (3, 3), feature_group_count=16)(x)  # depthwise
        x = nn.avg_pool(x, (2, 2), strides=(2, 2))
        return nn.Dense(10)(x.reshape(x.shape[0], -1))


def test_from_flax_cnn():
    x = jnp.ones((2, 16, 16, 3))
    net = workloads.from_flax(_CNN(), x)
    expected = 2 * 16 * 16 * 8 * 3 * 9 + 2 * 8 * 8 * 16 * 8 * 9 + 2 * 8 * 8 * 16 * 9 + 2 * 256 * 10
    assert net.macs == expected
    layers = _by_name(net)
    assert set(layers) == {"_CNN/Conv_0", "_CNN/Conv_1", "_CNN/Conv_2", "_CNN/Dense_0"}
    assert layers["_CNN/Conv_1"][0].stride == (2, 2)
    assert layers["_CNN/Conv_2"][0].kind == "depthwise" and layers["_CNN/Conv_2"][0].size("G") == 16
    assert layers["_CNN/Dense_0"][0].kind == "linear" and layers["_CNN/Dense_0"][0].sizes[2:5] == (10, 256, 2)
    # given params (full variables or the bare collection) import the same network
    variables = _CNN().init(jax.random.PRNGKey(1), x)
    assert workloads.from_flax(_CNN(), x, params=variables).items() == net.items()
    assert workloads.from_flax(_CNN(), x, params=variables["params"], name="cnn").macs == expected


class _Block(nn.Module):
    heads: int = 4
    d_model: int = 32
    d_ff: int = 64

    @nn.compact
    def __call__(self, x):
        x = x + nn.MultiHeadDotProductAttention(num_heads=self.heads, qkv_features=self.d_model)(nn.LayerNorm()(x))
        h = nn.Dense(self.d_ff)(nn.LayerNorm()(x))
        return x + nn.Dense(self.d_model)(nn.gelu(h))


def test_from_flax_transformer_block():
    b, t, d, h, ff = 2, 10, 32, 4, 64
    net = workloads.from_flax(_Block(h, d, ff), jnp.ones((b, t, d)))
    rows, hd = b * t, d // h
    expected = 4 * rows * d * d + 2 * (b * h) * t * t * hd + 2 * rows * d * ff
    assert net.macs == expected
    linear = [(layer, c) for layer, c in net.items() if layer.kind == "linear"]
    matmul = [(layer, c) for layer, c in net.items() if layer.kind == "matmul"]
    assert sum(c for _, c in linear) == 6  # q, k, v, out, two MLP denses
    assert sum(c for _, c in matmul) == 2 and all(layer.size("G") == b * h for layer, _ in matmul)
    # the score matmul has the zoo's shape: matmul(m=t, k=hd, n=t, heads=b*h)
    assert workloads.matmul("s", m=t, k=hd, n=t, heads=b * h).shape_key() in {l.shape_key() for l, _ in matmul}


def test_from_flax_nnx_and_errors():
    class Net(nnx.Module):
        def __init__(self, rngs):
            self.conv = nnx.Conv(3, 4, (3, 3), rngs=rngs)
            self.fc = nnx.Linear(4, 5, rngs=rngs)

        def __call__(self, x):
            return self.fc(self.conv(x).mean(axis=(1, 2)))

    model = Net(nnx.Rngs(0))
    net = workloads.from_flax(model, jnp.ones((1, 8, 8, 3)))
    assert net.macs == 8 * 8 * 4 * 3 * 9 + 4 * 5
    assert net.name == "Net" and {layer.kind for layer in net.layers} == {"conv2d", "linear"}
    with pytest.raises(TypeError, match="'params'"):
        workloads.from_flax(model, jnp.ones((1, 8, 8, 3)), params={})
    with pytest.raises(TypeError, match="'module'"):
        workloads.from_flax(lambda x: x, jnp.ones(3))
