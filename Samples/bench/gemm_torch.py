"""PyTorch twin of `engine bench gemm`: torch.matmul of two N x N matrices on one device.

Each sample times enough back-to-back calls for about 10 ms, with CUDA events on a GPU (the device's time,
as the engine's timers give it) and perf_counter on the CPU, exactly as the engine's side does. --tf32 sets
torch.backends.cuda.matmul.allow_tf32 (off otherwise, so that F32 means F32). The last stdout line is one
JSON object: {"bench": "gemm_torch", ..., "inner", "best_ms", "median_ms", "tflops", "median_tflops"}.
PyTorch is a yardstick for the engine, never a dependency of it.
"""
import argparse
import json
import math
import time

import torch


SAMPLE_MS = 10  # a timed sample covers about this long, as in the engine's DeviceBench.Time


def timed(device, fn, inner=1):
    """Milliseconds per call of `inner` back-to-back calls of fn, on the device's clock."""
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(inner):
            fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / inner
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - t0) * 1e3 / inner


def samples(device, repeat, fn, warmup=3):
    """Sorted per-call times of `repeat` samples, each of enough calls for about SAMPLE_MS (1 to 100), and that count."""
    for _ in range(warmup):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    inner = int(min(100, max(1, math.ceil(SAMPLE_MS / max(timed(device, fn), 1e-3)))))
    return sorted(timed(device, fn, inner) for _ in range(repeat)), inner


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--dtype", choices=["f32", "f64"], default="f32")
    parser.add_argument("--tf32", action="store_true")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    dtype = torch.float32 if args.dtype == "f32" else torch.float64
    gen = torch.Generator().manual_seed(1)
    a = torch.rand(args.size, args.size, generator=gen, dtype=dtype).to(device)
    b = torch.rand(args.size, args.size, generator=gen, dtype=dtype).to(device)
    times, inner = samples(device, args.repeat, lambda: torch.matmul(a, b))
    best, median = times[0], times[args.repeat // 2]
    flop = 2.0 * args.size ** 3
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(json.dumps({"bench": "gemm_torch", "torch": torch.__version__, "device": str(device), "device_name": name,
                      "size": args.size, "dtype": args.dtype, "tf32": args.tf32, "repeat": args.repeat, "inner": inner,
                      "best_ms": round(best, 4), "median_ms": round(median, 4),
                      "tflops": flop / (best * 1e-3) / 1e12, "median_tflops": flop / (median * 1e-3) / 1e12}))


if __name__ == "__main__":
    main()
