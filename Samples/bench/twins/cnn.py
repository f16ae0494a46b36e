"""PyTorch twin of the engine's SmallCnn (Models/Zoo/SmallCnn.cs), for 3x32x32 inputs and 10 classes."""
import torch.nn as nn


def build(name):
    if name != "cnn":
        raise ValueError(f"cnn twin: unknown model '{name}'")
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 8 * 8, 10))
