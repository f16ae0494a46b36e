"""PyTorch twin timings for `engine bench model --torch`.

Builds the PyTorch twin of a model (written from the same spec as the engine's model, in
twins/<family>.py where <family> is the model name up to its first dash), times the training step
(forward, cross-entropy with label smoothing 0.1, backward, AdamW) and inference exactly as the engine's
bench does: --warmup untimed steps (50 by default), one more untimed step (the engine counts that one), then each timed step on
the device's clock (CUDA events on a GPU, perf_counter on the CPU), the median reported. On CUDA the peak
of torch.cuda.max_memory_allocated is read for the train steps and, reset in between, for inference;
--tf32 sets torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32 (both off without
it, as the engine's F32). Prints one JSON line: {"train_s": median seconds, "infer_s": ..., "params": count,
"train_peak_bytes", "infer_peak_bytes" (null on the CPU), "tf32", "torch", "device_name"}.
Runs with PyTorch 1.13 and 2.x.
"""
import argparse
import importlib.util
import inspect
import json
import os
import sys
import time

import torch


def load_twin(name, image_size):
    family = name.split("-")[0]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "twins", family + ".py")
    if not os.path.exists(path):
        sys.exit(f"model_torch.py: no twin for '{name}' (looked for twins/{family}.py)")
    spec = importlib.util.spec_from_file_location("twin_" + family, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # Twins whose shapes depend on the input size (vHeat's frequency embeddings) take it as image_size.
    if "image_size" in inspect.signature(module.build).parameters:
        return module.build(name, image_size=image_size)
    return module.build(name)


def median_seconds(steps, warmup, body, cuda):
    for _ in range(warmup + 1):
        body()
    times = []
    for _ in range(steps):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            body()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
        else:
            t0 = time.perf_counter()
            body()
            times.append(time.perf_counter() - t0)
    times.sort()
    return times[steps // 2]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="f32", choices=["f32", "f64"])
    parser.add_argument("--tf32", action="store_true")
    parser.add_argument("--phase", default="both", choices=["both", "train", "infer"])
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = args.tf32
        torch.backends.cudnn.allow_tf32 = args.tf32
    dtype = torch.float64 if args.dtype == "f64" else torch.float32
    model = load_twin(args.model, args.size).to(device=device, dtype=dtype)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}], lr=2e-3)
    images = torch.randn(args.batch, 3, args.size, args.size, device=device, dtype=dtype)
    labels = torch.randint(0, 10, (args.batch,), device=device)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)

    def train_step():
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def infer():
        with torch.no_grad():
            model(images)

    def peak():
        if not cuda:
            return None
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device)

    train_s = train_peak = infer_s = infer_peak = None
    if args.phase != "infer":
        model.train()
        if cuda:
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
        train_s = median_seconds(args.steps, args.warmup, train_step, cuda)
        train_peak = peak()
    if args.phase != "train":
        model.eval()
        if cuda:
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
        infer_s = median_seconds(args.steps, args.warmup, infer, cuda)
        infer_peak = peak()
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({
        "train_s": train_s, "infer_s": infer_s, "params": params,
        "train_peak_bytes": train_peak, "infer_peak_bytes": infer_peak,
        "tf32": bool(cuda and torch.backends.cuda.matmul.allow_tf32),
        "torch": torch.__version__,
        "device_name": torch.cuda.get_device_name(device) if cuda else "CPU",
    }))


if __name__ == "__main__":
    main()
