"""PyTorch twin of `engine bench ops`: the same cases, shapes and timing method, on the CPU or a GPU.

Inputs are drawn on the CPU from seeded generators and moved to the device. On CUDA the forward and the
backward are each timed with CUDA events (the device's time, as the engine's timers give it).

Run with a Python that has torch (here /usr/bin/python3). The last stdout line is one JSON object:
{"bench": "ops_torch", ..., "cases": {name: {fwd_median_ms, fwd_min_ms, bwd_median_ms, bwd_min_ms}}}.
PyTorch is a yardstick for the engine, never a dependency of it.
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F


DEVICE = torch.device("cpu")


def leaves(dtype, seed, *shapes):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=gen, dtype=dtype).to(DEVICE).requires_grad_() for s in shapes]


def layer_norm2d(x, w, b):
    # PyTorch has no channels-first layer norm; the usual spelling (ConvNeXt, vHeat) permutes around F.layer_norm.
    return F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), w, b).permute(0, 3, 1, 2)


def sdpa(q, k, v):
    # F.scaled_dot_product_attention arrived in PyTorch 2.0; Debian's 1.13 gets the same product spelled out.
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v)
    return torch.softmax(q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5, dim=-1) @ v


def cases(dtype):
    """name -> function returning (leaves, forward)."""
    def simple(seed, shapes, fn):
        def build():
            xs = leaves(dtype, seed, *shapes)
            return xs, lambda: fn(*xs)
        return build

    def batch_norm():
        xs = leaves(dtype, 10, (64, 64, 32, 32), (64,), (64,))
        rm, rv = torch.zeros(64, dtype=dtype, device=DEVICE), torch.ones(64, dtype=dtype, device=DEVICE)
        return xs, lambda: F.batch_norm(xs[0], rm, rv, xs[1], xs[2], training=True)

    def cross_entropy():
        xs = leaves(dtype, 16, (4096, 1000))
        target = torch.randint(0, 1000, (4096,), generator=torch.Generator().manual_seed(116)).to(DEVICE)
        return xs, lambda: F.cross_entropy(xs[0], target, label_smoothing=0.1)

    def dropout():
        xs = leaves(dtype, 22, (4 << 20,))
        return xs, lambda: F.dropout(xs[0], 0.1, training=True)

    def bilstm2d():
        # Sequencer2D-S's first token mixer: two bidirectional LSTMs (192 -> 48) over the columns and the rows.
        direction = [(192, 192), (192, 48), (192,), (192,)]
        xs = leaves(dtype, 28, (8, 32, 32, 192), *(direction * 4))

        def lstm(seq, weights):
            h0 = torch.zeros(2, seq.shape[0], 48, dtype=dtype, device=DEVICE)
            return torch.lstm(seq, (h0, h0), weights, True, 1, 0.0, True, True, True)[0]

        def forward():
            x = xs[0]
            b, h, w, c = x.shape
            v = lstm(x.permute(0, 2, 1, 3).reshape(b * w, h, c), xs[1:9]).reshape(b, w, h, 96).permute(0, 2, 1, 3)
            hz = lstm(x.reshape(b * h, w, c), xs[9:]).reshape(b, h, w, 96)
            return torch.cat([v, hz], -1)
        return xs, forward

    return {
        "add": simple(1, [(1024, 1024), (1024, 1024)], lambda a, b: a + b),
        "sub": simple(29, [(1024, 1024), (1024, 1024)], lambda a, b: a - b),
        "mul": simple(30, [(1024, 1024), (1024, 1024)], lambda a, b: a * b),
        "div": simple(31, [(1024, 1024), (1024, 1024)], lambda a, b: a / b),
        "matmul": simple(2, [(512, 512), (512, 512)], torch.matmul),
        "conv2d_3x3": simple(3, [(32, 64, 32, 32), (64, 64, 3, 3)], lambda x, w: F.conv2d(x, w, padding=1)),
        "conv2d_depthwise_3x3": simple(4, [(32, 128, 16, 16), (128, 1, 3, 3)], lambda x, w: F.conv2d(x, w, padding=1, groups=128)),
        "conv2d_1x1": simple(5, [(32, 128, 16, 16), (256, 128, 1, 1)], F.conv2d),
        "conv2d_patch4": simple(6, [(32, 3, 64, 64), (96, 3, 4, 4)], lambda x, w: F.conv2d(x, w, stride=4)),
        "linear": simple(7, [(4096, 512), (512, 512), (512,)], F.linear),
        "layer_norm": simple(8, [(8192, 256), (256,), (256,)], lambda x, w, b: F.layer_norm(x, (256,), w, b)),
        "layer_norm2d": simple(9, [(32, 64, 16, 16), (64,), (64,)], layer_norm2d),
        "batch_norm2d_train": batch_norm,
        "group_norm": simple(11, [(32, 64, 32, 32), (64,), (64,)], lambda x, w, b: F.group_norm(x, 8, w, b)),
        "gelu": simple(12, [(4 << 20,)], F.gelu),
        "silu": simple(13, [(4 << 20,)], F.silu),
        "softmax": simple(14, [(4096, 1000)], lambda x: F.softmax(x, -1)),
        "log_softmax": simple(15, [(4096, 1000)], lambda x: F.log_softmax(x, -1)),
        "cross_entropy": cross_entropy,
        "max_pool2d": simple(17, [(32, 64, 32, 32)], lambda x: F.max_pool2d(x, 3, 2, 1)),
        "avg_pool2d": simple(18, [(32, 64, 32, 32)], lambda x: F.avg_pool2d(x, 2, 2)),
        "adaptive_avg_pool2d": simple(19, [(32, 64, 32, 32)], lambda x: F.adaptive_avg_pool2d(x, 7)),
        "interpolate_bilinear": simple(20, [(32, 64, 16, 16)], lambda x: F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)),
        "interpolate_bicubic": simple(21, [(32, 64, 16, 16)], lambda x: F.interpolate(x, size=(32, 32), mode="bicubic", align_corners=False)),
        "dropout": dropout,
        "sum_dim1": simple(23, [(4096, 1024)], lambda x: x.sum(1)),
        "sdpa_cross": simple(24, [(32, 1, 3136, 64), (32, 1, 64, 64), (32, 1, 64, 64)], sdpa),
        "sdpa_self_1024": simple(25, [(2, 4, 1024, 64)] * 3, sdpa),
        "rfft2": simple(26, [(32, 64, 32, 32)], lambda x: torch.view_as_real(torch.fft.rfft2(x, norm="ortho"))),
        "irfft2": simple(27, [(32, 64, 32, 17, 2)], lambda x: torch.fft.irfft2(torch.view_as_complex(x), s=(32, 32), norm="ortho")),
        "bilstm2d": bilstm2d,
    }


def timed(fn):
    """(result, milliseconds) of one call on the device's clock: CUDA events on a GPU, perf_counter on the CPU."""
    if DEVICE.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        result = fn()
        end.record()
        end.synchronize()
        return result, start.elapsed_time(end)
    t0 = time.perf_counter()
    result = fn()
    return result, (time.perf_counter() - t0) * 1e3


def time_case(build, dtype, repeat, warmup=2):
    """Forward, then y.backward(g) for a fixed random g; gradients dropped between runs, outside the timing."""
    xs, forward = build()
    g = None
    fwd, bwd = [], []
    for run in range(-warmup, repeat):
        y, f = timed(forward)
        if g is None:
            g = torch.randn(y.shape, generator=torch.Generator().manual_seed(999), dtype=dtype).to(DEVICE)
        _, b = timed(lambda: y.backward(g))
        for x in xs:
            x.grad = None
        del y
        if run >= 0:
            fwd.append(f)
            bwd.append(b)
    # The median of an even count is the upper middle, as the engine reports it.
    fwd.sort()
    bwd.sort()
    return {"fwd_median_ms": round(fwd[repeat // 2], 3), "fwd_min_ms": round(fwd[0], 3),
            "bwd_median_ms": round(bwd[repeat // 2], 3), "bwd_min_ms": round(bwd[0], 3)}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--dtype", choices=["f32", "f64"], default="f32")
    parser.add_argument("--filter", default=None)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=150)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    global DEVICE
    DEVICE = torch.device(args.device)
    torch.set_num_threads(args.threads)
    dtype = torch.float32 if args.dtype == "f32" else torch.float64
    results = {}
    for name, build in cases(dtype).items():
        if args.filter is None or args.filter in name:
            results[name] = time_case(build, dtype, args.repeat, args.warmup)
    print(json.dumps({"bench": "ops_torch", "torch": torch.__version__, "device": str(DEVICE), "threads": args.threads,
                      "dtype": args.dtype, "repeat": args.repeat, "warmup": args.warmup, "cases": results}))


if __name__ == "__main__":
    main()
