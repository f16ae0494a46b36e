"""Writes the PyTorch checkpoints the .pth reader's tests read (Tests/Models/PthReaderTests.cs, PthBackboneTests.cs).

Run with Debian's python3-torch (1.13) from the repository root:  /usr/bin/python3 Tests/Data/pth/make_pth.py
Every file is made twice where the format matters: torch.save's zip format and the legacy format
(_use_new_zipfile_serialization=False). expected.json holds, for each small file, every tensor's dtype, shape
and values as PyTorch reads them back, so the C# tests compare against PyTorch rather than against constants.

The nano_<family>.pth files hold the state dict of the PyTorch twin of each Nano backbone (Samples/bench/twins),
seeded, with randomised BatchNorm statistics, in float16 to keep them small; nano_<family>_io.pth holds a float64
input and the twin's float64 eval-mode logits computed from exactly those float16 weights. The twins use the
reference implementations' state-dict names, which are the engine's, except Sequencer's twin, whose channel MLP
is an nn.Sequential (mlp_channels.0/.2) and whose stem is a bare conv (stem): those keys are renamed to the
reference's (timm's Mlp fc1/fc2 and PatchEmbed stem.proj) here.
"""
import collections
import importlib.util
import json
import os
import pickle
import zipfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))


def save(obj, name, legacy=False):
    torch.save(obj, os.path.join(HERE, name), _use_new_zipfile_serialization=not legacy)


def dtypes():
    base = torch.tensor([[-2.5, -1.0, 0.0], [0.5, 1.75, 100.25]], dtype=torch.float64)
    d = collections.OrderedDict()
    d["f32"] = base.float() * 1.5
    d["f64"] = base / 3.0
    d["f16"] = base.half()
    d["bf16"] = base.bfloat16()
    d["i8"] = torch.tensor([[-128, -1, 0], [1, 64, 127]], dtype=torch.int8)
    d["u8"] = torch.tensor([[0, 1, 2], [127, 128, 255]], dtype=torch.uint8)
    d["i16"] = torch.tensor([[-32768, -2, 0], [3, 1000, 32767]], dtype=torch.int16)
    d["i32"] = torch.tensor([[-2**31, -5, 0], [7, 123456, 2**31 - 1]], dtype=torch.int32)
    d["i64"] = torch.tensor([[-2**63, -9, 0], [11, 2**40, 2**63 - 1]], dtype=torch.int64)
    d["bool"] = torch.tensor([[True, False, True], [False, False, True]])
    d["scalar"] = torch.tensor(3.25)
    d["empty"] = torch.zeros(0, 4)
    return d


def views():
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    d = collections.OrderedDict()
    d["base"] = base
    d["row"] = base[1]                    # offset 6
    d["col"] = base[:, 2]                 # offset 2, stride 6
    d["t"] = base.t()                     # strides (1, 6)
    d["block"] = base[1:3, 2:5]           # offset 8, strides (6, 1)
    d["expanded"] = torch.arange(3, dtype=torch.int64).expand(2, 3)  # stride 0
    return d


def nested():
    model = collections.OrderedDict([("module.fc.weight", torch.full((2, 3), 0.5)), ("module.fc.bias", torch.tensor([1.0, -1.0]))])
    ema = collections.OrderedDict([("fc.weight", torch.full((2, 3), 0.25)), ("fc.bias", torch.tensor([2.0, -2.0]))])
    return {"model": model, "model_ema": ema, "epoch": 7, "args": {"lr": 0.1, "name": "x"},
            "optimizer": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]}}


def parameters():
    return {"state_dict": collections.OrderedDict([("w", torch.nn.Parameter(torch.tensor([1.0, 2.0, 3.0]))),
                                                   ("b", torch.nn.Parameter(torch.tensor([0.5]), requires_grad=False))])}


class Hostile:
    """An object whose pickle calls os.system on load; pickling it runs nothing."""

    def __reduce__(self):
        return (os.system, ("echo this must never run",))


def hostile():
    # A torch.save-shaped archive whose data.pkl names os.system (stored entries, like torch.save's).
    path = os.path.join(HERE, "hostile.pth")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("hostile/data.pkl", pickle.dumps({"weight": Hostile()}, protocol=2))
        z.writestr("hostile/version", "3\n")


def record(d):
    out = {}
    for k, v in d.items():
        out[k] = {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape),
                  "values": v.detach().double().flatten().tolist() if v.dtype != torch.bool else v.flatten().int().tolist()}
        if v.dtype == torch.int64:
            out[k]["values"] = [str(x) for x in v.flatten().tolist()]  # exact beyond 2^53
    return out


def load_twin(family):
    path = os.path.join(ROOT, "Samples", "bench", "twins", family + ".py")
    spec = importlib.util.spec_from_file_location("twin_" + family, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sequencer_reference_key(key):
    """The official Sequencer's name for a key of the twin: timm's PatchEmbed (stem.proj) and Mlp (fc1, fc2)."""
    if key.startswith("stem."):
        return "stem.proj." + key[len("stem."):]
    return key.replace("mlp_channels.0.", "mlp_channels.fc1.").replace("mlp_channels.2.", "mlp_channels.fc2.")


def nano(family, name):
    torch.manual_seed(0)
    model = load_twin(family).build(name)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(5)
    state = collections.OrderedDict((k, v.half() if v.is_floating_point() else v.clone()) for k, v in model.state_dict().items())
    # The forward runs in float64 on exactly the float16 values saved.
    model.load_state_dict(state)
    model = model.double().eval()
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits = model(x)
    if family == "sequencer":
        state = collections.OrderedDict((sequencer_reference_key(k), v) for k, v in state.items())
    save({"model": state, "epoch": 1}, f"nano_{family}.pth")
    save(collections.OrderedDict([("input", x), ("logits", logits)]), f"nano_{family}_io.pth")


def main():
    expected = {}
    for name, make in (("dtypes", dtypes), ("views", views)):
        d = make()
        save(d, f"{name}.pth")
        save(d, f"{name}_legacy.pth", legacy=True)
        expected[name] = record(d)
    # Pickle protocol 4 (torch.save's pickle_protocol): STACK_GLOBAL, MEMOIZE and FRAME instead of protocol 2's opcodes.
    torch.save(dtypes(), os.path.join(HERE, "dtypes_p4.pth"), pickle_protocol=4)
    n = nested()
    save(n, "nested.pth")
    save(n, "nested_legacy.pth", legacy=True)
    expected["nested.model"] = record(collections.OrderedDict((k[len("module."):], v) for k, v in n["model"].items()))
    expected["nested.model_ema"] = record(n["model_ema"])
    p = parameters()
    save(p, "parameters.pth")
    expected["parameters"] = record(p["state_dict"])
    hostile()
    for family, name in (("vheat", "vheat-nano"), ("affnet", "affnet-nano"), ("sequencer", "sequencer-nano"), ("dualvit", "dualvit-nano")):
        nano(family, name)
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump({"torch": torch.__version__, "files": expected}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
