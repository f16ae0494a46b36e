"""Fits of the F32 GELU's polynomials (Ops/Activation/GeluF32.cs): minimax in relative error by Lawson's iteratively
reweighted least squares on Chebyshev nodes, references from mpmath at 40 digits. Prints each fit's error and its
coefficients (lowest degree first) rounded to float. Needs only mpmath; takes about a minute.

    python3 tools/fits/gelu_f32.py
"""
import math, struct
from fractions import Fraction as Fr
import mpmath as mp

mp.mp.dps = 40
SQ2PI = mp.sqrt(2*mp.pi)

def f32(v): return struct.unpack('f', struct.pack('f', float(v)))[0]

def solve(A, y):
    n = len(y); M = [row[:] + [y[i]] for i, row in enumerate(A)]
    for i in range(n):
        p = max(range(i, n), key=lambda r: abs(M[r][i])); M[i], M[p] = M[p], M[i]
        for r in range(i+1, n):
            f = M[r][i]/M[i][i]
            for k in range(i, n+1): M[r][k] -= f*M[i][k]
    x = [0.0]*n
    for i in reversed(range(n)):
        x[i] = (M[i][n] - sum(M[i][k]*x[k] for k in range(i+1, n)))/M[i][i]
    return x

def lawson(xs, fs, target, basis, n, iters):
    """min max |sum a_k basis_k(x) - target(x)| / fs(x); target = fs minus fixed part."""
    B = [basis(x) for x in xs]
    w = [1.0/len(xs)]*len(xs); best = None
    for it in range(iters):
        A = [[0.0]*n for _ in range(n)]; y = [0.0]*n
        for b, f, tg, wi in zip(B, fs, target, w):
            s = wi/(f*f)
            for i in range(n):
                bi = b[i]*s; y[i] += bi*tg; Ai = A[i]
                for j in range(n): Ai[j] += bi*b[j]
        a = solve(A, y)
        errs = [(sum(ai*bi for ai, bi in zip(a, b)) - tg)/f for b, f, tg in zip(B, fs, target)]
        m = max(abs(e) for e in errs)
        if best is None or m < best[0]: best = (m, a)
        w = [wi*abs(e) for wi, e in zip(w, errs)]; s = sum(w); w = [wi/s for wi in w]
    return best

def cheb_to_mono(a, lo, hi):
    """sum a_k T_k(t), t = (2q - lo - hi)/(hi - lo) -> monomial coefficients in q (Fractions)."""
    al = Fr(2)/(Fr(hi)-Fr(lo)); be = -(Fr(lo)+Fr(hi))/(Fr(hi)-Fr(lo))
    T = [[Fr(1)], [be, al]]
    for k in range(2, len(a)):
        p = [Fr(0)]*(k+1)
        for i, c in enumerate(T[-1]):
            p[i] += 2*be*c; p[i+1] += 2*al*c
        for i, c in enumerate(T[-2]): p[i] -= c
        T.append(p)
    out = [Fr(0)]*len(a)
    for k, ak in enumerate(a):
        for i, c in enumerate(T[k]): out[i] += Fr(ak)*c
    return out

def cheb_basis(lo, hi, n):
    def b(q):
        t = (2*q - (lo+hi))/(hi-lo); r = [1.0, t]
        for k in range(2, n): r.append(2*t*r[-1]-r[-2])
        return r[:n]
    return b

def exp_fit(deg, rmax, npts, iters):
    # exp(r) = 1 + r + r^2 * Q(r), Q of degree deg-2 in r (monomial basis directly; interval is small)
    xs = [rmax*math.cos(math.pi*(k+0.5)/npts) for k in range(npts)] + [-rmax, rmax]
    fs = [float(mp.exp(x)) for x in xs]
    tg = [float(mp.exp(x) - 1 - x) for x in xs]
    n = deg-1
    m, a = lawson(xs, fs, tg, lambda x: [x**(k+2) for k in range(n)], n, iters)
    return m, a

def mills_fit_range(c, deg, umin, umax, npts, iters):
    lo, hi = (umin-c)/(umin+c), (umax-c)/(umax+c)
    qs = [(lo+hi)/2 + (hi-lo)/2*math.cos(math.pi*(k+0.5)/npts) for k in range(npts)] + [lo, hi]
    fs = []
    for q in qs:
        u = mp.mpf(c)*(1+q)/(1-q)
        M = mp.erfc(u/mp.sqrt(2))/2*SQ2PI*mp.exp(u*u/2)
        fs.append(float(M*(u+c)/SQ2PI))
    m, a = lawson(qs, fs, fs, cheb_basis(lo, hi, deg+1), deg+1, iters)
    return m, [float(v) for v in cheb_to_mono(a, lo, hi)]

def small_fit(deg, umax, npts, iters):
    # S(v) = (Phi(sqrt v) - 1/2)/sqrt v, v in [0, umax^2], polynomial in v of degree deg
    vmax = umax*umax
    vs = [vmax/2 + vmax/2*math.cos(math.pi*(k+0.5)/npts) for k in range(npts)] + [0.0, vmax]
    fs = []
    for v in vs:
        if v == 0: fs.append(float(1/SQ2PI)); continue
        u = mp.sqrt(mp.mpf(v)); fs.append(float((mp.ncdf(u) - mp.mpf(1)/2)/u))
    m, a = lawson(vs, fs, fs, cheb_basis(0.0, vmax, deg+1), deg+1, iters)
    return m, [float(v) for v in cheb_to_mono(a, 0.0, vmax)]


if __name__ == "__main__":
    m, a = mills_fit_range(3.0, 7, 1.0, 13.5, 800, 300)
    print(f"H (Mills ratio, c = 3, degree 7, u in [1, 13.5]): max relative error {m:.2e}")
    print("  " + ", ".join(repr(f32(v)) for v in a))
    m, a = mills_fit_range(3.0, 10, 0.0, 13.5, 800, 300)
    print(f"G (the forward's one piece: Mills ratio, c = 3, degree 10, u in [0, 13.5]): max relative error {m:.2e}")
    print("  " + ", ".join(repr(f32(v)) for v in a))
    m, a = small_fit(5, 1.0, 400, 300)
    print(f"S (central, degree 5 in x^2, |x| < 1): max relative error {m:.2e}")
    print("  " + ", ".join(repr(f32(v)) for v in a))
    m, a = exp_fit(6, 0.3467, 400, 300)
    print(f"E2..E6 (exp, degree 6, |r| <= 0.3467): max relative error {m:.2e}")
    print("  " + ", ".join(repr(f32(v)) for v in a))
