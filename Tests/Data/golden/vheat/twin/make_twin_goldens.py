"""Goldens in the reference format made by the PyTorch twin (not the reference): configurations the
reference goldens do not cover (post-norm with layer scale, other widths, depths and MLP ratio, odd
non-square inputs). Run with /usr/bin/python3 (torch 1.13) from anywhere."""
import sys, json, struct, torch
import os
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, '..', '..', '..', '..', '..', 'Samples', 'bench', 'twins')); import vheat
torch.manual_seed(0)
def save(path, tensors, meta):
    header = {"__metadata__": meta}; off = 0; blobs = []
    for k, t in tensors.items():
        b = t.detach().contiguous().to(torch.float64).numpy().tobytes()
        header[k] = {"dtype": "F64", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}; off += len(b); blobs.append(b)
    h = json.dumps(header).encode(); h += b' ' * ((8 - len(h) % 8) % 8)
    open(path, 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
def case(path, cfg, hw, batch, mode):
    m = vheat.VHeat(dims=cfg["dims"], depths=cfg["depths"], num_classes=cfg["num_classes"], post_norm=cfg["post_norm"],
                    layer_scale=cfg["layer_scale"], mlp_ratio=cfg["mlp_ratio"], img_hw=hw).double()
    with torch.no_grad():
        for p in m.parameters(): p.add_(torch.randn_like(p) * 0.05)
    m.train(mode == "train")
    x = torch.randn(batch, 3, *hw, dtype=torch.float64, requires_grad=True)
    y = m(x); r = torch.randn_like(y); (y * r).sum().backward()
    t = {"input": x, "output": y, "grad_output": r, "grad.input": x.grad}
    for k, p in m.named_parameters(): t["param." + k] = p; t["grad." + k] = p.grad
    save(path, t, {"model": "vHeat", "config": json.dumps(dict(cfg, patch_size=4, in_chans=3, drop_path_rate=0.0, img_size=hw[0])),
                   "img_hw": json.dumps(list(hw)), "mode": mode, "seed": "0", "reference": "Samples/bench/twins/vheat.py (the PyTorch twin written from the spec, not the reference repository)"})
case(os.path.join(here, 'twin_postnorm_train.safetensors'), {"dims": [8, 16, 24, 32], "depths": [1, 2, 1, 1], "num_classes": 7, "post_norm": True, "layer_scale": 0.5, "mlp_ratio": 3.0}, (28, 44), 3, "train")
case(os.path.join(here, 'twin_prenorm_eval.safetensors'), {"dims": 8, "depths": [1, 1, 2, 1], "num_classes": 5, "post_norm": False, "layer_scale": None, "mlp_ratio": 4.0}, (37, 23), 2, "eval")
