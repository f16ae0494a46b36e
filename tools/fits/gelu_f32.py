"""Fits of the F32 GELU's polynomials (Ops/Activation/GeluF32.cs), in float coefficients, references from mpmath at
40 digits: the tied rational N / (u N + R) of Mills' ratio and the exponential's polynomial F (the forward and the
derivative share both). Prints each fit's error and its coefficients (lowest degree first). Needs numpy and mpmath;
the rational takes a few minutes, F alone (--exp) seconds.

    python3 tools/fits/gelu_f32.py [--scan | --exp]
"""
import math, struct
import mpmath as mp

mp.mp.dps = 40
SQ2PI = mp.sqrt(2*mp.pi)

def f32(v): return struct.unpack('f', struct.pack('f', float(v)))[0]

# ---- The forward: Phi(-u) = 2^n F(w) N(u) / (u N(u) + R(u)) (GeluF32.cs) ----
# n = round(-hi log2(e)/2) and w = hi + n L + lo with L = 2 ln 2 rounded to float; exp(-n (2 ln 2 - L)/2) = exp(kappa u^2)
# within 1e-9, so the rational is fitted to M(u) e^{kappa u^2} / sqrt(2 pi) = Phi(-u) e^{u^2/2} e^{kappa u^2}.
L_F32 = f32(2*mp.log(2))
KAPPA = (2*mp.log(2) - mp.mpf(L_F32))/(4*mp.log(2))

def forward_target(u):
    u = mp.mpf(u)
    return mp.erfc(u/mp.sqrt(2))/2*mp.exp(u*u/2)*mp.exp(KAPPA*u*u)

def forward_rational(c0, umax=13.5, nodes=1500, dense=8001, log=print):
    """c0 N / (u N + R), N = u^4 + a3 u^3 + .. + a0, R = r3 u^3 + .. + r0: Loeb's linearisation with Lawson's weights,
    the coefficients rounded to float one at a time (each to whichever of the nearest floats refits best, the others
    refitted), then a search over pairs of them, up to 3 ulps each way. Returns (error, a, r)."""
    import numpy as np
    k = np.arange(nodes)
    us = np.concatenate([[0.0], umax/2 - umax/2*np.cos(np.pi*(k + 0.5)/nodes), [umax]])
    f = np.array([float(forward_target(u)) for u in us])
    Va, Vr = np.vander(us, 4, increasing=True), np.vander(us, 4, increasing=True)

    def refit(fa, fr, Dprev=None, iters=80):
        g = c0 - f*us
        freeA = [i for i in range(4) if i not in fa]; freeR = [j for j in range(4) if j not in fr]
        base = -g*us**4 - g*sum((Va[:, i]*v for i, v in fa.items()), np.zeros_like(us)) \
            + f*sum((Vr[:, j]*v for j, v in fr.items()), np.zeros_like(us))
        A = np.hstack([g[:, None]*Va[:, freeA], -f[:, None]*Vr[:, freeR]])
        Dprev = np.ones_like(us) if Dprev is None else Dprev
        w = np.ones_like(us)/len(us); best = None
        for _ in range(iters):
            sc = np.sqrt(w)/(f*Dprev)
            c, *_ = np.linalg.lstsq(A*sc[:, None], base*sc, rcond=None)
            a = np.zeros(4); r = np.zeros(4)
            for i, v in fa.items(): a[i] = v
            for j, v in fr.items(): r[j] = v
            a[freeA] = c[:len(freeA)]; r[freeR] = c[len(freeA):]
            N = us**4 + Va@a; D = us*N + Vr@r; e = c0*N/D/f - 1; m = abs(e).max()
            if best is None or m < best[0]: best = (m, a.copy(), r.copy(), D.copy())
            Dprev = D; w = w*abs(e); w /= w.sum()
        return best

    m, a, r, D = refit({}, {})
    log(f"  rational, double coefficients, c0 = {c0!r}: {m:.3e}")
    fa, fr = {}, {}
    for kind, idx in [('R', j) for j in reversed(range(4))] + [('N', i) for i in reversed(range(4))]:
        m, a, r, D = refit(fa, fr, D)
        v32 = np.float32(r[idx] if kind == 'R' else a[idx]); best = None
        for cand in sorted({float(v32), float(np.nextafter(v32, np.float32(np.inf))), float(np.nextafter(v32, np.float32(-np.inf)))}):
            ta, tr = dict(fa), dict(fr); (tr if kind == 'R' else ta)[idx] = cand
            e = refit(ta, tr, D, iters=40)[0]
            if best is None or e < best[0]: best = (e, cand)
        (fr if kind == 'R' else fa)[idx] = best[1]
    cur = [[fa[i] for i in range(4)], [fr[j] for j in range(4)]]
    ud = np.linspace(0, umax, dense); tg = np.array([float(forward_target(u)) for u in ud])

    def err(a, r):
        N = np.ones_like(ud)
        for c in reversed(a): N = N*ud + c
        R = np.zeros_like(ud)
        for c in reversed(r): R = R*ud + c
        g = c0*N/(ud*N + R)/tg
        return max(g.max() - 1, 1 - g.min())

    def move(v, steps):
        v = np.float32(v)
        for _ in range(abs(steps)): v = np.nextafter(v, np.float32(np.inf if steps > 0 else -np.inf))
        return float(v)

    e0 = err(*cur); log(f"  rounded to float: {e0:.3e}")
    flat = [(0, i) for i in range(4)] + [(1, j) for j in range(4)]
    improved = True
    while improved:
        improved = False
        for x in range(len(flat)):
            for y in range(x, len(flat)):
                for kx in range(-3, 4):
                    for ky in (range(-3, 4) if y != x else [0]):
                        if kx == 0 and ky == 0: continue
                        t = [list(cur[0]), list(cur[1])]; (wx, ix), (wy, iy) = flat[x], flat[y]
                        t[wx][ix] = move(t[wx][ix], kx)
                        if y != x: t[wy][iy] = move(t[wy][iy], ky)
                        e = err(*t)
                        if e < e0 - 1e-13: cur, e0, improved = t, e, True
    return e0, cur[0], cur[1]

def forward_exp(c0, deg=5, wmax=0.6932, nodes=3000, free0=False):
    """F(w) ~ c0 exp(-w/2) on |w| <= wmax: minimax relative, F(0) free (a constant factor near 1 is the fit's, not the
    rational's), rounded to float one coefficient at a time (the others refitted), then a search over pairs, up to 2
    ulps each way. Returns (error, coefficients)."""
    import numpy as np
    k = np.arange(nodes)
    xs = np.concatenate([[-wmax], wmax*np.cos(np.pi*(k + 0.5)/nodes), [wmax]])
    f = c0*np.exp(-xs/2); V = np.vander(xs, deg + 1, increasing=True)

    def refit(fixed, iters=100):
        free = [i for i in range(deg + 1) if i not in fixed]
        base = f - sum(V[:, i]*v for i, v in fixed.items())
        w = np.ones_like(xs)/len(xs); best = None
        for _ in range(iters):
            sc = np.sqrt(w)/f
            c, *_ = np.linalg.lstsq(V[:, free]*sc[:, None], base*sc, rcond=None)
            a = np.zeros(deg + 1)
            for i, v in fixed.items(): a[i] = v
            a[free] = c; e = V@a/f - 1; m = abs(e).max()
            if best is None or m < best[0]: best = (m, a.copy())
            w = w*abs(e); w /= w.sum()
        return best

    fixed = {} if free0 else {0: c0}
    for i in range(0 if free0 else 1, deg + 1):
        fixed[i] = f32(refit(fixed)[1][i])
    a = [fixed[i] for i in range(deg + 1)]
    dense = np.linspace(-wmax, wmax, 200001); fd = c0*np.exp(-dense/2)

    def err(a):
        p = np.zeros_like(dense)
        for c in reversed(a): p = p*dense + c
        r = p/fd
        return max(r.max() - 1, 1 - r.min())

    def move(v, steps):
        v = np.float32(v)
        for _ in range(abs(steps)): v = np.nextafter(v, np.float32(np.inf if steps > 0 else -np.inf))
        return float(v)

    e0 = err(a); improved = True
    while improved:
        improved = False
        for x in range(0 if free0 else 1, deg + 1):
            for y in range(x, deg + 1):
                for kx in range(-2, 3):
                    for ky in range(-2, 3):
                        t = list(a); t[x] = move(t[x], kx)
                        if y != x: t[y] = move(t[y], ky)
                        e = err(t)
                        if e < e0 - 1e-14: a, e0, improved = t, e, True
    return e0, a

# F0, the rational's scale: the double fit is best near c0 = 0.3989411 (from 1.5e-8; it is 5.7e-8 at 1/sqrt(2 pi));
# of the floats there 0.39894112944602966 gives the best float coefficients (--scan tries the four nearest).
FORWARD_C0 = 0.39894112944602966

def forward_fits(scan):
    import numpy as np
    cands = [FORWARD_C0]
    if scan:
        v = np.float32(0.3989411)
        cands = [float(np.nextafter(np.nextafter(v, np.float32(0)), np.float32(0))), float(np.nextafter(v, np.float32(0))), float(v),
                 float(np.nextafter(v, np.float32(1)))]
    best = None
    for c0 in cands:
        e, a, r = forward_rational(c0)
        print(f"  c0 = {c0!r}: rational with float coefficients {e:.3e}")
        if best is None or e < best[0]: best = (e, c0, a, r)
    e, c0, a, r = best
    print(f"N (monic quartic) and R (cubic) of c0 N / (u N + R), u in [0, 13.5]: max relative error {e:.2e}")
    print("  N0..N3: " + ", ".join(repr(v) for v in a))
    print("  R0..R3: " + ", ".join(repr(v) for v in r))
    e, fc = forward_exp(c0)
    print(f"F0..F5 (c0 exp(-w/2), degree 5, |w| <= 0.6932): max relative error {e:.2e}")
    print("  " + ", ".join(repr(v) for v in fc))


if __name__ == "__main__":
    import sys
    if "--exp" in sys.argv:
        e, fc = forward_exp(FORWARD_C0)
        print(f"F0..F5 (c0 exp(-w/2), degree 5, |w| <= 0.6932): max relative error {e:.2e}")
        print("  " + ", ".join(repr(v) for v in fc))
    else:
        forward_fits("--scan" in sys.argv)
