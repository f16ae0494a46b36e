"""PyTorch twin of `engine bench add`: x + y of N floats beside z.copy_(x), on one device.

Each sample times enough back-to-back calls for about 10 ms, with CUDA events on a GPU and perf_counter on
the CPU, exactly as the engine's side does. The add moves 12 bytes per element (two reads, one write) and
the copy 8, so the GB/s figures are bytes moved per second. The last stdout line is one JSON object:
{"bench": "add_torch", ..., "add_ms", "add_out_ms", "copy_ms", "add_gbs", "copy_gbs"}. PyTorch is a
yardstick for the engine, never a dependency of it.
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


def best_and_median(device, repeat, fn):
    times, _ = samples(device, repeat, fn)
    return times[0], times[repeat // 2]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--count", type=int, default=256 << 20)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(args.count, generator=gen).to(device)
    y = torch.rand(args.count, generator=gen).to(device)
    z = torch.empty_like(x)
    add, add_median = best_and_median(device, args.repeat, lambda: x + y)
    add_out, _ = best_and_median(device, args.repeat, lambda: torch.add(x, y, out=z))
    copy, copy_median = best_and_median(device, args.repeat, lambda: z.copy_(x))
    gb = args.count * 4 / 1e9
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(json.dumps({"bench": "add_torch", "torch": torch.__version__, "device": str(device), "device_name": name,
                      "count": args.count, "repeat": args.repeat,
                      "add_ms": round(add, 4), "add_median_ms": round(add_median, 4), "add_out_ms": round(add_out, 4),
                      "copy_ms": round(copy, 4), "copy_median_ms": round(copy_median, 4),
                      "add_gbs": 3 * gb / (add * 1e-3), "add_out_gbs": 3 * gb / (add_out * 1e-3),
                      "copy_gbs": 2 * gb / (copy * 1e-3)}))


if __name__ == "__main__":
    main()
