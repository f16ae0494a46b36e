"""PyTorch twin of the engine's AFFNet (Models/Backbones/AffNet), written from the spec (docs: the AFFNet
spec, sections 2-3 and 6): the same modules, state-dict names and parameter counts.

Names: "affnet-nano" (the spec's Nano config, 247,034 parameters at 10 classes) and "affnet" (the official
AFFNet, "small", 5,568,696 parameters at 1000 classes; built here with 10 classes for the benchmark).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

GROUPS = 8


def make_divisible(v, divisor=8):
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


class ConvLayer(nn.Module):
    def __init__(self, cin, cout, k, stride=1, groups=1, act=True, momentum=0.1):
        super().__init__()
        self.block = nn.Sequential()
        self.block.add_module("conv", nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False))
        self.block.add_module("norm", nn.BatchNorm2d(cout, momentum=momentum))
        if act:
            self.block.add_module("act", nn.SiLU())

    def forward(self, x):
        return self.block(x)


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hid = make_divisible(int(round(cin * expand)), 8)
        self.block = nn.Sequential()
        if expand != 1:
            self.block.add_module("exp_1x1", ConvLayer(cin, hid, 1))
        else:
            hid = cin
        self.block.add_module("conv_3x3", ConvLayer(hid, hid, 3, stride, groups=hid))
        self.block.add_module("red_1x1", ConvLayer(hid, cout, 1, act=False))
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.block(x) if self.residual else self.block(x)


class ChannelLayerNorm(nn.Module):
    """Normalises over C at each pixel, eps added to the (biased) standard deviation."""

    def __init__(self, c, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))
        self.eps = eps

    def forward(self, x):
        mu = x.mean(1, keepdim=True)
        sd = (x - mu).pow(2).mean(1, keepdim=True).sqrt()
        return self.weight[:, None, None] * (x - mu) / (sd + self.eps) + self.bias[:, None, None]


class TokenMixer(nn.Module):
    def __init__(self, c, lambd=0.01):
        super().__init__()
        d = c // GROUPS
        self.w1 = nn.Parameter(0.02 * torch.randn(2, GROUPS, d, d))
        self.b1 = nn.Parameter(0.02 * torch.randn(2, GROUPS, d))
        self.w2 = nn.Parameter(0.02 * torch.randn(2, GROUPS, d, d))
        self.b2 = nn.Parameter(0.02 * torch.randn(2, GROUPS, d))
        self.lambd = lambd

    @staticmethod
    def _linear(xr, xi, w, b):
        ein = lambda v, m: torch.einsum("bkihw,kio->bkohw", v, m)
        yr = ein(xr, w[0]) - ein(xi, w[1]) + b[0][None, :, :, None, None]
        yi = ein(xi, w[0]) + ein(xr, w[1]) + b[1][None, :, :, None, None]
        return yr, yi

    def forward(self, x):
        bsz, c, h, w = x.shape
        spec = torch.fft.rfft2(x, dim=(2, 3), norm="ortho")
        xr = spec.real.reshape(bsz, GROUPS, c // GROUPS, h, -1)
        xi = spec.imag.reshape(bsz, GROUPS, c // GROUPS, h, -1)
        hr, hi = self._linear(xr, xi, self.w1, self.b1)
        hr, hi = F.silu(hr), F.silu(hi)
        mr, mi = self._linear(hr, hi, self.w2, self.b2)
        mask = torch.view_as_complex(torch.stack([F.softshrink(mr, self.lambd), F.softshrink(mi, self.lambd)], -1))
        y = mask.reshape(bsz, c, h, -1) * spec
        return x + torch.fft.irfft2(y, s=(h, w), dim=(2, 3), norm="ortho")


class Block(nn.Module):
    def __init__(self, c, ffn):
        super().__init__()
        self.norm1 = ChannelLayerNorm(c)
        self.filter = TokenMixer(c)
        self.norm2 = ChannelLayerNorm(c)
        self.mlp = InvertedResidual(c, c, 1, ffn / c)

    def forward(self, x):
        return x + self.filter(self.norm2(self.mlp(self.norm1(x))))


class AFFBlock(nn.Module):
    def __init__(self, c, ffn, blocks, no_fuse=False):
        super().__init__()
        self.global_rep = nn.Sequential(*[Block(c, ffn) for _ in range(blocks)], ChannelLayerNorm(c))
        self.conv_proj = ConvLayer(c, c, 1, act=False)
        self.fusion = None if no_fuse else ConvLayer(2 * c, c, 1)

    def forward(self, x):
        f = self.conv_proj(self.global_rep(x))
        return f if self.fusion is None else self.fusion(torch.cat([x, f], 1))


class AFFNet(nn.Module):
    def __init__(self, stages, classes, stem=16, exp_factor=4):
        super().__init__()
        self.conv_1 = ConvLayer(3, stem, 3, 2)
        width = stem
        for i, st in enumerate(stages):
            layer = nn.Sequential()
            if st["type"] == "mv2":
                for b in range(st["blocks"]):
                    layer.add_module(str(b), InvertedResidual(width if b == 0 else st["out"], st["out"], st["stride"] if b == 0 else 1, st["expand"]))
            else:
                if st["stride"] == 2:
                    layer.add_module(str(len(layer)), InvertedResidual(width, st["out"], 2, st["mv_expand"]))
                layer.add_module(str(len(layer)), AFFBlock(st["out"], st["ffn"], st["blocks"], st.get("no_fuse", False)))
            setattr(self, f"layer_{i + 1}", layer)
            width = st["out"]
        self.layers = [getattr(self, f"layer_{i + 1}") for i in range(len(stages))]
        head = min(exp_factor * width, 960)
        self.conv_1x1_exp = ConvLayer(width, head, 1)
        self.classifier = nn.Sequential()
        self.classifier.add_module("fc", nn.Linear(head, classes))

    def forward(self, x):
        x = self.conv_1(x)
        for layer in self.layers:
            x = layer(x)
        x = self.conv_1x1_exp(x).mean((2, 3))
        return self.classifier(x)


def nano_stages():
    return [
        {"type": "mv2", "out": 24, "expand": 2, "blocks": 1, "stride": 1},
        {"type": "mv2", "out": 32, "expand": 2, "blocks": 2, "stride": 1},
        {"type": "aff", "out": 48, "ffn": 96, "blocks": 2, "stride": 2, "mv_expand": 2},
        {"type": "aff", "out": 64, "ffn": 128, "blocks": 2, "stride": 2, "mv_expand": 2},
        {"type": "aff", "out": 80, "ffn": 160, "blocks": 2, "stride": 2, "mv_expand": 2},
    ]


def small_stages():
    return [
        {"type": "mv2", "out": 32, "expand": 4, "blocks": 1, "stride": 1},
        {"type": "mv2", "out": 64, "expand": 4, "blocks": 3, "stride": 2},
        {"type": "aff", "out": 128, "ffn": 256, "blocks": 2, "stride": 2, "mv_expand": 4},
        {"type": "aff", "out": 256, "ffn": 512, "blocks": 4, "stride": 2, "mv_expand": 4},
        {"type": "aff", "out": 320, "ffn": 640, "blocks": 3, "stride": 2, "mv_expand": 4},
    ]


def build(name, classes=10):
    if name == "affnet-nano":
        return AFFNet(nano_stages(), classes)
    if name == "affnet":
        return AFFNet(small_stages(), classes)
    raise ValueError(f"affnet twin: unknown model '{name}'")
