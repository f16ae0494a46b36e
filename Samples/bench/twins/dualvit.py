"""PyTorch twin of the engine's Dual-ViT (Models/Backbones/DualVit), written from the spec, for
`engine bench model --torch`: "dualvit-nano" (the spec's Nano, 389,762 parameters) and "dualvit-s"
(Dual-ViT-S without the token-label head, semantic pool 7), both for 3x32x32 inputs and 10 classes.
State-dict keys follow the reference's names. Drop path is 0 (the bench measures speed)."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def attend(q, k, v, heads):
    """(B, L, C) projections -> multi-head softmax(q k^T d^-1/2) v -> (B, L, C), computed explicitly."""
    b, lq, c = q.shape
    d = c // heads
    q = q.reshape(b, lq, heads, d).transpose(1, 2)
    k = k.reshape(b, k.shape[1], heads, d).transpose(1, 2)
    v = v.reshape(b, v.shape[1], heads, d).transpose(1, 2)
    a = ((q @ k.transpose(-2, -1)) * d ** -0.5).softmax(-1)
    return (a @ v).transpose(1, 2).reshape(b, lq, c)


class DWConv(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.dwconv = nn.Conv2d(ch, ch, 3, 1, 1, groups=ch)

    def forward(self, x, h, w):
        b, n, c = x.shape
        return self.dwconv(x.transpose(1, 2).reshape(b, c, h, w)).flatten(2).transpose(1, 2)


class PixelFfn(nn.Module):
    def __init__(self, dim, hidden, semantic):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = DWConv(hidden)
        self.fc2 = nn.Linear(hidden, dim)
        if semantic:
            self.fc_proxy = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def pixels(self, x, h, w):
        return self.fc2(F.gelu(self.dwconv(self.fc1(x), h, w)))


class DualAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        self.qkv_proxy = nn.Sequential(nn.LayerNorm(dim, eps=1e-5), nn.Linear(dim, 3 * dim))
        self.gamma1 = nn.Parameter(1e-6 * torch.ones(dim))
        self.gamma2 = nn.Parameter(1e-6 * torch.ones(dim))
        self.gamma3 = nn.Parameter(1e-6 * torch.ones(dim))
        self.q_proxy_ln = nn.LayerNorm(dim, eps=1e-5)
        self.q_proxy = nn.Linear(dim, dim)
        self.kv_proxy = nn.Linear(dim, 2 * dim)
        self.p_ln = nn.LayerNorm(dim, eps=1e-5)
        self.mlp_proxy = nn.Sequential(nn.Linear(dim, 4 * dim), nn.ReLU(), nn.Linear(4 * dim, dim))
        self.proxy_ln = nn.LayerNorm(dim, eps=1e-5)

    def forward(self, u, z):
        qs, ks, vs = self.qkv_proxy(z).chunk(3, -1)
        z = z + self.gamma1 * attend(qs, ks, vs, self.heads)
        kp, vp = self.kv_proxy(u).chunk(2, -1)
        z = z + self.gamma2 * attend(self.q_proxy(self.q_proxy_ln(z)), kp, vp, self.heads)
        z = z + self.gamma3 * self.mlp_proxy(self.p_ln(z))
        kz, vz = self.kv(self.proxy_ln(z)).chunk(2, -1)
        return self.proj(attend(self.q(u), kz, vz, self.heads)), z


class DualBlock(nn.Module):
    def __init__(self, dim, heads, ratio, eps):
        super().__init__()
        self.gamma1 = nn.Parameter(1e-6 * torch.ones(dim))
        self.gamma2 = nn.Parameter(1e-6 * torch.ones(dim))
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = DualAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = PixelFfn(dim, int(dim * ratio), False)

    def forward(self, x, z, h, w):
        a, z = self.attn(self.norm1(x), z)
        x = x + self.gamma1 * a
        x = x + self.gamma2 * self.mlp.pixels(self.norm2(x), h, w)
        return x, z


class MergeAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, t):
        k, v = self.kv(t).chunk(2, -1)
        return self.proj(attend(self.q(t), k, v, self.heads))


class MergeBlock(nn.Module):
    def __init__(self, dim, heads, ratio, eps):
        super().__init__()
        self.gamma1 = nn.Parameter(1e-6 * torch.ones(dim))
        self.gamma2 = nn.Parameter(1e-6 * torch.ones(dim))
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = MergeAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = PixelFfn(dim, int(dim * ratio), True)

    def forward(self, s, h, w):
        n = h * w
        s = s + self.gamma1 * self.attn(self.norm1(s))
        t = self.norm2(s)
        f = torch.cat([self.mlp.pixels(t[:, :n], h, w), self.mlp.fc_proxy(t[:, n:])], 1)
        return s + self.gamma2 * f


class ClassAttention(MergeAttention):
    def forward(self, u):
        k, v = self.kv(u).chunk(2, -1)
        return self.proj(attend(self.q(u[:, :1]), k, v, self.heads))


class ClassBlock(nn.Module):
    def __init__(self, dim, heads, ratio, eps):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = ClassAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = nn.Sequential()
        self.mlp.fc1 = nn.Linear(dim, int(dim * ratio))
        self.mlp.act = nn.GELU()
        self.mlp.fc2 = nn.Linear(int(dim * ratio), dim)

    def forward(self, t):
        c1 = t[:, :1] + self.attn(self.norm1(t))
        return c1 + self.mlp(self.norm2(c1))


class PatchEmbed(nn.Module):
    def __init__(self, cin, dim, stem_hidden=None):
        super().__init__()
        if stem_hidden is not None:
            s = stem_hidden
            self.conv = nn.Sequential(
                nn.Conv2d(cin, s, 7, 2, 3, bias=False), nn.BatchNorm2d(s), nn.ReLU(),
                nn.Conv2d(s, s, 3, 1, 1, bias=False), nn.BatchNorm2d(s), nn.ReLU(),
                nn.Conv2d(s, s, 3, 1, 1, bias=False), nn.BatchNorm2d(s), nn.ReLU())
            cin = s
        self.proj = nn.Conv2d(cin, dim, 3, 2, 1)
        self.norm = nn.LayerNorm(dim, eps=1e-5)

    def forward(self, x):
        if hasattr(self, "conv"):
            x = self.conv(x)
        x = self.proj(x)
        h, w = x.shape[2:]
        return self.norm(x.flatten(2).transpose(1, 2)), h, w


class ProxyEmbed(nn.Module):
    def __init__(self, cin, dim):
        super().__init__()
        self.proj_proxy = nn.Sequential(nn.Linear(cin, dim), nn.LayerNorm(dim, eps=1e-5))

    def forward(self, z):
        return self.proj_proxy(z)


class DualViT(nn.Module):
    def __init__(self, stem, dims, heads, ratios, depths, classes, pool, eps=1e-6):
        super().__init__()
        self.pool_size, self.heads = pool, heads
        c = dims[0]
        self.q = nn.Parameter(torch.randn(64, c) * 0.02)
        self.q_embed = nn.Sequential(nn.LayerNorm(c, eps=1e-5), nn.Linear(c, c))
        self.kv = nn.Linear(c, 2 * c)
        self.se = nn.Sequential(nn.Linear(c, c), nn.ReLU(), nn.Linear(c, 2 * c))
        self.proxy_ln = nn.LayerNorm(c, eps=1e-5)
        for i in range(4):
            setattr(self, f"patch_embed{i + 1}", PatchEmbed(3, dims[0], stem) if i == 0 else PatchEmbed(dims[i - 1], dims[i]))
            if i > 0:
                setattr(self, f"proxy_embed{i + 1}", ProxyEmbed(dims[i - 1], dims[i]))
            if i < 2:
                blocks = [DualBlock(dims[i], heads[i], ratios[i], eps) for _ in range(depths[i])]
            else:
                blocks = [MergeBlock(dims[i], heads[i], ratios[i] - 1 if i == 2 and j % 2 == 1 else ratios[i], eps) for j in range(depths[i])]
            setattr(self, f"block{i + 1}", nn.ModuleList(blocks))
            setattr(self, f"norm{i + 1}", nn.LayerNorm(dims[i], eps=eps))
            if i < 3:
                setattr(self, f"norm_proxy{i + 1}", nn.LayerNorm(dims[i], eps=eps))
        self.post_network = nn.ModuleList([ClassBlock(dims[3], heads[3], ratios[4], eps)])
        self.head = nn.Linear(dims[3], classes)

    def semantic(self, x, h, w):
        b, n, c = x.shape
        p = F.avg_pool2d(x.transpose(1, 2).reshape(b, c, h, w), self.pool_size, self.pool_size)
        hp, wp = p.shape[2:]
        p = p.flatten(2).transpose(1, 2)
        k, v = self.kv(p).chunk(2, -1)
        q = self.q
        if hp * wp != 64:
            q = F.interpolate(q.t().reshape(1, c, 8, 8), size=(hp, wp), mode="bicubic", align_corners=False)
            q = q.reshape(c, hp * wp).t()
        q = self.q_embed(q)
        s = ((q @ k.transpose(-2, -1)) * c ** -0.5).softmax(-1) @ v
        a = self.se((s + p).mean(1)).reshape(b, 2, c).softmax(1)
        return self.proxy_ln(a[:, :1] * s + a[:, 1:] * p)

    def forward(self, image):
        x, h, w = self.patch_embed1(image)
        z = self.semantic(x, h, w)
        for i in range(4):
            if i > 0:
                b, n, c = x.shape
                x, h, w = getattr(self, f"patch_embed{i + 1}")(x.transpose(1, 2).reshape(b, c, h, w))
                z = getattr(self, f"proxy_embed{i + 1}")(z)
            if i < 2:
                for blk in getattr(self, f"block{i + 1}"):
                    x, z = blk(x, z, h, w)
            else:
                n = h * w
                s = torch.cat([x, z], 1)
                for blk in getattr(self, f"block{i + 1}"):
                    s = blk(s, h, w)
                if i == 3:
                    break
                x, z = s[:, :n], s[:, n:]
            x = getattr(self, f"norm{i + 1}")(x)
            z = getattr(self, f"norm_proxy{i + 1}")(z)
        c2 = self.post_network[0](torch.cat([s.mean(1, keepdim=True), s], 1))
        return self.head(self.norm4(c2[:, 0]))


def build(name):
    if name == "dualvit-nano":
        return DualViT(16, [32, 40, 48, 64], [2, 2, 3, 4], [8, 8, 4, 3, 2], [2, 1, 2, 1], 10, pool=2)
    if name == "dualvit-s":
        return DualViT(32, [64, 128, 320, 448], [2, 4, 10, 14], [8, 8, 4, 3, 2], [3, 4, 6, 3], 10, pool=7)
    raise ValueError(f"dualvit twin: unknown model '{name}'")


if __name__ == "__main__":
    for n in ("dualvit-nano", "dualvit-s"):
        m = build(n)
        print(n, sum(p.numel() for p in m.parameters()), m(torch.randn(2, 3, 32, 32)).shape)
