"""Extra AFFNet parity cases from the PyTorch twin (affnet.py), in the golden file format.

The twin reproduces the reference's Nano goldens to about 1e-14 (check: `--check GOLDEN`), so its output on
configurations the shared goldens do not cover is a useful second opinion: odd and non-square inputs
(odd feature maps in the AFF stages, 11x7 on the separable DFT path), batch 2 and 1, an MV2 stage with expand 1 (no exp_1x1), a float
expand ratio, ffn == width, and a stage without fusion (no_fuse). These files are NOT reference goldens.

Usage: python3 affnet_cases.py OUT_DIR [--check NANO_TRAIN_GOLDEN]
"""
import json
import struct
import sys

import numpy as np
import torch

import affnet

STAGES = [
    {"type": "mv2", "out": 16, "expand": 3, "blocks": 1, "stride": 1},
    {"type": "mv2", "out": 16, "expand": 1, "blocks": 2, "stride": 2},
    {"type": "aff", "out": 24, "ffn": 40, "blocks": 1, "stride": 2, "mv_expand": 2.5},
    {"type": "aff", "out": 32, "ffn": 32, "blocks": 2, "stride": 2, "mv_expand": 2, "no_fuse": True},
    {"type": "aff", "out": 40, "ffn": 64, "blocks": 1, "stride": 2, "mv_expand": 2},
]
OPTS = {"model.classification.n_classes": 5, "model.classification.classifier_dropout": 0.0,
        "model.classification.affnet.attn_norm_layer": "layer_norm", "model.normalization.name": "batch_norm",
        "model.normalization.momentum": 0.1, "model.activation.name": "swish", "model.activation.sparsity_threshold": 0.01}


def read(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    meta = header.pop("__metadata__")
    tensors = {}
    for k, v in header.items():
        s, e = v["data_offsets"]
        tensors[k] = torch.from_numpy(np.frombuffer(b[8 + n + s:8 + n + e], dtype=np.float64).reshape(v["shape"]).copy())
    return meta, tensors


def write(path, tensors, meta):
    header, blobs, offset = {"__metadata__": meta}, [], 0
    for k, t in tensors.items():
        data = t.detach().double().contiguous().numpy().tobytes()
        header[k] = {"dtype": "F64", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def forward_backward(model, x, r, train):
    model.train(train)
    x = x.clone().requires_grad_(True)
    y = model(x)
    (y * r).sum().backward()
    return y, x.grad


def check(golden):
    meta, t = read(golden)
    model = affnet.build("affnet-nano").double()
    state = {k[6:]: v for k, v in t.items() if k.startswith("param.")}
    state.update({k[7:]: v for k, v in t.items() if k.startswith("buffer.")})
    model.load_state_dict(state, strict=False)
    y, gx = forward_backward(model, t["input"], t["grad_output"], meta["mode"] == "train")
    print("twin vs reference: output", ((y - t["output"]).abs().max() / t["output"].abs().max()).item(),
          "grad.input", ((gx - t["grad.input"]).abs().max() / t["grad.input"].abs().max()).item())


def make(out_dir, name, shape, train, seed):
    torch.manual_seed(seed)
    model = affnet.AFFNet(STAGES, 5).double()
    with torch.no_grad():  # perturbed as the reference goldens were, so nothing sits at a degenerate value
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
        for k, b in model.named_buffers():
            if "running_var" in k:
                b.copy_(1 + torch.rand_like(b))
            elif "running_mean" in k:
                b.add_(0.05 * torch.randn_like(b))
    before = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    x = torch.randn(shape, dtype=torch.float64)
    r = torch.randn(shape[0], 5, dtype=torch.float64)
    y, gx = forward_backward(model, x, r, train)
    tensors = {"input": x, "output": y, "grad_output": r, "grad.input": gx}
    for k, p in model.named_parameters():
        tensors["param." + k] = p
        tensors["grad." + k] = p.grad
    for k, v in before.items():
        tensors["buffer." + k] = v
    if train:
        for k, v in model.state_dict().items():
            if "running" in k:
                tensors["buffer_after." + k] = v
    config = {"opts": OPTS, "stages": STAGES, "last_layer_exp_factor": 4, "stem_out": 16, "num_classes": 5, "input_shape": list(shape)}
    write(f"{out_dir}/{name}.safetensors", tensors, {
        "model": "affnet", "config": json.dumps(config), "mode": "train" if train else "eval", "seed": str(seed), "case": name,
        "reference": "PyTorch twin (Samples/bench/twins/affnet.py), not the reference implementation"})


if __name__ == "__main__":
    if "--check" in sys.argv:
        check(sys.argv[sys.argv.index("--check") + 1])
    make(sys.argv[1], "twin_odd_train", (2, 3, 41, 27), True, 5)
    make(sys.argv[1], "twin_odd_eval", (1, 3, 50, 27), False, 6)
