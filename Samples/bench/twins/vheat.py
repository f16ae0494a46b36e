"""PyTorch twin of the engine's vHeat (Models/Backbones/VHeat), written from the vHeat spec.

Same architecture, parameter names and counts as the engine's model: stem (two 3x3/s2 convs with
channel LayerNorms, eps 1e-6), four stages of heat blocks sharing one frequency embedding per stage,
3x3/s2 downsamples without bias, and an LN -> mean -> Linear head. Like the engine, it keeps NCHW
inside the heat operator (1x1 convolutions with the Linear weights, DCT over the last two axes).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def dct_basis(n, dtype):
    k = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(n, dtype=torch.float64)[None, :]
    d = torch.cos(math.pi * k * (i + 0.5) / n) * math.sqrt(2.0 / n)
    d[0] /= math.sqrt(2.0)
    return d.to(dtype)


def omega(h, w, dtype):
    wh = torch.arange(h, dtype=torch.float64) * math.pi / h
    ww = torch.arange(w, dtype=torch.float64) * math.pi / w
    return (wh[:, None] ** 2 + ww[None, :] ** 2).to(dtype)


class ChannelNorm(nn.LayerNorm):
    """LayerNorm over C of an NCHW tensor."""

    def forward(self, x):
        return F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps).permute(0, 3, 1, 2)


class Permuted(nn.Module):
    """Holds its norm at index 1, as the reference's permute-LN-permute Sequential."""

    def __init__(self, c, eps):
        super().__init__()
        self.add_module("1", ChannelNorm(c, eps=eps))

    def forward(self, x):
        return getattr(self, "1")(x)


def linear(i, o):
    l = nn.Linear(i, o)
    nn.init.trunc_normal_(l.weight, std=0.02)
    nn.init.zeros_(l.bias)
    return l


class Heat2D(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim
        self.dwconv = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.linear = linear(dim, 2 * dim)
        self.to_k = nn.Sequential(linear(dim, dim), nn.ReLU())
        self.out_norm = ChannelNorm(dim, eps=1e-5)
        self.out_linear = linear(dim, dim)
        self._cache = {}

    def constants(self, h, w, dtype, device):
        key = (h, w, dtype, device)
        if key not in self._cache:
            self._cache[key] = (dct_basis(h, dtype).to(device), dct_basis(w, dtype).to(device), omega(h, w, dtype).to(device))
        return self._cache[key]

    def forward(self, x, fve):
        b, c, h, w = x.shape
        dh, dw, om = self.constants(h, w, x.dtype, x.device)
        t = self.dwconv(x)
        t = F.conv2d(t, self.linear.weight[:, :, None, None], self.linear.bias)
        u, z = t[:, :c], t[:, c:]
        k = self.to_k(fve).permute(2, 0, 1)
        decay = torch.exp(-k * om)
        v = dh @ u @ dw.t()
        v = dh.t() @ (v * decay) @ dw
        v = self.out_norm(v) * F.silu(z)
        return F.conv2d(v, self.out_linear.weight[:, :, None, None], self.out_linear.bias)


def drop_path(x, p, training):
    if p == 0 or not training:
        return x
    keep = torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device) >= p
    return x * keep / (1 - p)


class HeatBlock(nn.Module):
    def __init__(self, dim, dp, post_norm, layer_scale, mlp_ratio):
        super().__init__()
        self.dp, self.post_norm, self.scaled = dp, post_norm, layer_scale is not None
        self.norm1 = ChannelNorm(dim, eps=1e-5)
        self.op = Heat2D(dim)
        self.norm2 = ChannelNorm(dim, eps=1e-5)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Conv2d(dim, hidden, 1)
        self.mlp.fc2 = nn.Conv2d(hidden, dim, 1)
        if self.scaled:
            self.gamma1 = nn.Parameter(layer_scale * torch.ones(dim))
            self.gamma2 = nn.Parameter(layer_scale * torch.ones(dim))

    def mlp_forward(self, x):
        return self.mlp.fc2(F.gelu(self.mlp.fc1(x)))

    def forward(self, x, fve):
        a = self.norm1(self.op(x, fve)) if self.post_norm else self.op(self.norm1(x), fve)
        if self.scaled:
            a = a * self.gamma1[:, None, None]
        x = x + drop_path(a, self.dp, self.training)
        m = self.norm2(self.mlp_forward(x)) if self.post_norm else self.mlp_forward(self.norm2(x))
        if self.scaled:
            m = m * self.gamma2[:, None, None]
        return x + drop_path(m, self.dp, self.training)


class Stage(nn.Module):
    def __init__(self, blocks, downsample):
        super().__init__()
        for j, b in enumerate(blocks):
            self.add_module(str(j), b)
        self.n = len(blocks)
        if downsample is not None:
            self.add_module(str(len(blocks)), downsample)

    def forward(self, x, fve):
        for j in range(self.n):
            x = getattr(self, str(j))(x, fve)
        return getattr(self, str(self.n))(x) if hasattr(self, str(self.n)) else x


class VHeat(nn.Module):
    def __init__(self, dims=16, depths=(2, 2, 2, 1), num_classes=10, in_chans=3, post_norm=False, layer_scale=None,
                 mlp_ratio=4.0, drop_path_rate=0.0, img_hw=(32, 32)):
        super().__init__()
        dims = [dims * 2 ** i for i in range(4)] if isinstance(dims, int) else list(dims)
        self.patch_embed = nn.Module()
        self.patch_embed.conv1 = nn.Conv2d(in_chans, dims[0] // 2, 3, 2, 1)
        self.patch_embed.norm1 = Permuted(dims[0] // 2, 1e-6)
        self.patch_embed.conv2 = nn.Conv2d(dims[0] // 2, dims[0], 3, 2, 1)
        self.patch_embed.norm2 = Permuted(dims[0], 1e-6)
        h, w = img_hw
        h, w = (h + 1) // 2, (w + 1) // 2
        h, w = (h + 1) // 2, (w + 1) // 2
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.freq_embed = nn.ParameterList()
        self.layers = nn.ModuleList()
        at = 0
        for s, (d, n) in enumerate(zip(dims, depths)):
            fve = nn.Parameter(torch.empty(h, w, d))
            nn.init.trunc_normal_(fve, std=0.02)
            self.freq_embed.append(fve)
            blocks = [HeatBlock(d, rates[at + j], post_norm, layer_scale, mlp_ratio) for j in range(n)]
            at += n
            down = None
            if s + 1 < len(dims):
                down = nn.Sequential(nn.Conv2d(d, dims[s + 1], 3, 2, 1, bias=False), ChannelNorm(dims[s + 1], eps=1e-5))
            self.layers.append(Stage(blocks, down))
            h, w = (h + 1) // 2, (w + 1) // 2
        self.classifier = nn.Sequential(ChannelNorm(dims[-1], eps=1e-5), nn.AdaptiveAvgPool2d(1), nn.Flatten(), linear(dims[-1], num_classes))

    def forward(self, x):
        p = self.patch_embed
        x = p.norm2(p.conv2(F.gelu(p.norm1(p.conv1(x)))))
        for s, stage in enumerate(self.layers):
            x = stage(x, self.freq_embed[s])
        return self.classifier(x)


def build(name, image_size=32):
    hw = (image_size, image_size)
    if name == "vheat-nano":
        return VHeat(drop_path_rate=0.05, img_hw=hw)
    if name == "vheat-t":
        return VHeat(dims=96, depths=(2, 2, 6, 2), drop_path_rate=0.1, img_hw=hw)
    if name == "vheat-b":
        return VHeat(dims=128, depths=(2, 2, 18, 2), post_norm=True, layer_scale=1e-5, drop_path_rate=0.5, img_hw=hw)
    raise ValueError(f"vheat twin: unknown model '{name}'")
