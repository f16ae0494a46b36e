"""PyTorch twin timings for `engine bench model --torch`.

Builds the PyTorch twin of a model (written from the same spec as the engine's model, in
twins/<family>.py where <family> is the model name up to its first dash), times the training step
(forward, cross-entropy with label smoothing 0.1, backward, AdamW) and inference exactly as the engine's
bench does, and prints one JSON line: {"train_s": median seconds, "infer_s": ..., "params": count}.
"""
import argparse
import importlib.util
import json
import os
import sys
import time

import torch


def load_twin(name):
    family = name.split("-")[0]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "twins", family + ".py")
    if not os.path.exists(path):
        sys.exit(f"model_torch.py: no twin for '{name}' (looked for twins/{family}.py)")
    spec = importlib.util.spec_from_file_location("twin_" + family, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build(name)


def median_seconds(steps, body):
    for _ in range(2):
        body()
    times = []
    for _ in range(steps):
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
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    model = load_twin(args.model).to(device)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}], lr=2e-3)
    images = torch.randn(args.batch, 3, args.size, args.size, device=device)
    labels = torch.randint(0, 10, (args.batch,), device=device)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def train_step():
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        sync()

    def infer():
        with torch.no_grad():
            model(images)
        sync()

    model.train()
    train_s = median_seconds(args.steps, train_step)
    model.eval()
    infer_s = median_seconds(args.steps, infer)
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"train_s": train_s, "infer_s": infer_s, "params": params}))


if __name__ == "__main__":
    main()
