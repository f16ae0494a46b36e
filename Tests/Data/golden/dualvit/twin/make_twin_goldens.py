"""Writes the twin goldens of this folder: Dual-ViT configurations the reference goldens do not cover
(a pool that drops rows and columns, non-square inputs, bicubic resize of the queries to non-square grids),
computed in float64 by the PyTorch twin Samples/bench/twins/dualvit.py, which reproduces the reference's
Nano goldens to 1e-15. Run from the repository root: python3 Tests/Data/golden/dualvit/twin/make_twin_goldens.py"""
import importlib.util
import json
import os
import struct

import torch

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("twin", os.path.join(here, "..", "..", "..", "..", "..", "Samples", "bench", "twins", "dualvit.py"))
tw = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tw)


def write(path, tensors, meta):
    header, blobs, off = {"__metadata__": meta}, [], 0
    for k, t in tensors.items():
        b = t.detach().double().contiguous().numpy().tobytes()
        header[k] = {"dtype": "F64", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}; off += len(b); blobs.append(b)
    h = json.dumps(header).encode(); h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f: f.write(struct.pack("<Q", len(h))); f.write(h); [f.write(b) for b in blobs]
def case(path, cfg, shape, train, seed):
    torch.manual_seed(seed)
    m = tw.DualViT(cfg["stem_hidden_dim"], cfg["embed_dims"], cfg["num_heads"], cfg["mlp_ratios"], cfg["depths"], cfg["num_classes"], cfg["semantic_pool"]).double()
    with torch.no_grad():
        for p in m.parameters(): p.add_(torch.randn_like(p) * 0.05)
        for n, b in m.named_buffers():
            if "running_mean" in n: b.normal_(0, 0.1)
            if "running_var" in n: b.uniform_(0.5, 1.5)
    m.train(train)
    t = {"buffer." + n: b.clone() for n, b in m.named_buffers() if "num_batches" not in n}
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    y = m(x); r = torch.randn_like(y); (y * r).sum().backward()
    t.update({"input": x.detach(), "output": y.detach(), "grad_output": r, "grad.input": x.grad})
    for n, p in m.named_parameters(): t["param." + n] = p.detach(); t["grad." + n] = p.grad
    if train: t.update({"buffer_after." + n: b.clone() for n, b in m.named_buffers() if "num_batches" not in n})
    cfg = dict(cfg, token_label=False, ln_eps=1e-6, input_shape=list(shape))
    write(path, t, {"model": "dualvit", "config": json.dumps(cfg), "mode": "train" if train else "eval", "seed": str(seed)})

tiny = dict(stem_hidden_dim=4, embed_dims=[8, 8, 12, 12], num_heads=[1, 2, 2, 3], mlp_ratios=[2, 2, 3, 2, 2], depths=[1, 1, 2, 1], num_classes=5)
# 44x36: stage-1 grid 11x9, pool 3 drops 2 rows and 1 column -> 3x3 = 9 semantic tokens (q resized 8x8 -> 3x3).
case(os.path.join(here, "pool3_44x36_train.safetensors"), dict(tiny, semantic_pool=3), (2, 3, 44, 36), True, 11)
# 64x48: grid 16x12, pool 5 -> 3x2 (q resized to a non-square grid), eval mode.
case(os.path.join(here, "pool5_64x48_eval.safetensors"), dict(tiny, semantic_pool=5), (1, 3, 64, 48), False, 12)
