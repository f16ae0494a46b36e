"""PyTorch twin of the engine's Sequencer2D (Models/Backbones/Sequencer), written from the spec.

Same architecture and parameter count as the C# model: conv stem to a channels-last grid, four stages of
pre-norm blocks (BiLSTM2D token mixer = vertical and horizontal bidirectional nn.LSTM, concat, fc; GELU MLP),
the transition conv at the end of each stage, final LayerNorm, mean over the grid, linear head.
"sequencer-nano" is the spec's Nano config for 3x32x32 inputs and 10 classes (294,634 parameters);
"sequencer2d-s" is Sequencer2D-S with 10 classes.
"""
import torch
import torch.nn as nn


class BiLSTM2D(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.rnn_v = nn.LSTM(dim, hidden, batch_first=True, bidirectional=True)
        self.rnn_h = nn.LSTM(dim, hidden, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(4 * hidden, dim)

    def forward(self, x):
        b, h, w, c = x.shape
        v, _ = self.rnn_v(x.permute(0, 2, 1, 3).reshape(b * w, h, c))
        v = v.reshape(b, w, h, -1).permute(0, 2, 1, 3)
        z, _ = self.rnn_h(x.reshape(b * h, w, c))
        z = z.reshape(b, h, w, -1)
        return self.fc(torch.cat([v, z], dim=-1))


class DropPath(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        keep = 1 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class Block(nn.Module):
    def __init__(self, dim, hidden, mlp_ratio, drop_path):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.rnn_tokens = BiLSTM2D(dim, hidden)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        inner = int(mlp_ratio * dim)
        self.mlp_channels = nn.Sequential(nn.Linear(dim, inner), nn.GELU(), nn.Linear(inner, dim))
        self.drop_path = DropPath(drop_path)

    def forward(self, x):
        x = x + self.drop_path(self.rnn_tokens(self.norm1(x)))
        return x + self.drop_path(self.mlp_channels(self.norm2(x)))


class Downsample(nn.Module):
    def __init__(self, cin, cout, patch):
        super().__init__()
        self.down = nn.Conv2d(cin, cout, patch, patch)

    def forward(self, x):
        return self.down(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class Sequencer2D(nn.Module):
    def __init__(self, layers, patch_sizes, dims, hidden, mlp_ratios, num_classes=10, in_chans=3, drop_path_rate=0.1):
        super().__init__()
        self.stem = nn.Conv2d(in_chans, dims[0], patch_sizes[0], patch_sizes[0])
        total = sum(layers)
        rates = [drop_path_rate * k / (total - 1) if total > 1 else 0.0 for k in range(total)]
        stages, k = [], 0
        for i in range(4):
            blocks = []
            for _ in range(layers[i]):
                blocks.append(Block(dims[i], hidden[i], mlp_ratios[i], rates[k]))
                k += 1
            if i < 3:
                blocks.append(Downsample(dims[i], dims[i + 1], patch_sizes[i + 1]))
            stages.append(nn.Sequential(*blocks))
        self.blocks = nn.Sequential(*stages)
        self.norm = nn.LayerNorm(dims[3], eps=1e-6)
        self.head = nn.Linear(dims[3], num_classes)

    def forward(self, x):
        x = self.stem(x).permute(0, 2, 3, 1)
        x = self.norm(self.blocks(x))
        return self.head(x.mean(dim=(1, 2)))


def build(name):
    if name == "sequencer-nano":
        return Sequencer2D([2, 2, 2, 1], [2, 2, 1, 1], [32, 64, 64, 64], [8, 16, 16, 16], [3, 3, 3, 3])
    if name == "sequencer2d-s":
        return Sequencer2D([4, 3, 8, 3], [7, 2, 1, 1], [192, 384, 384, 384], [48, 96, 96, 96], [3, 3, 3, 3])
    raise ValueError(f"sequencer twin: unknown model '{name}'")
