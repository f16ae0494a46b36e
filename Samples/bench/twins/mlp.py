"""PyTorch twin of the engine's MlpClassifier (Models/Zoo/MlpClassifier.cs), for 3x32x32 inputs and 10 classes."""
import torch.nn as nn


def build(name):
    if name != "mlp":
        raise ValueError(f"mlp twin: unknown model '{name}'")
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 64), nn.LayerNorm(64), nn.Tanh(), nn.Linear(64, 10))
