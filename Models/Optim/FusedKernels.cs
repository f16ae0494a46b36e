using System.Numerics;
using Engine.Cpu;

namespace Engine.Models.Optim;

/// <summary>
/// One-pass CPU update kernels over contiguous spans (float or double). Each applies PyTorch 1.13's
/// single-tensor formulas element by element in the same order of operations, with the Python-side
/// scalars computed in double and then converted to the element type as ATen does. Elementwise, so the
/// result does not depend on how the range is split across threads.
/// </summary>
internal static unsafe class FusedKernels
{
    /// <summary>The scalars of one AdamW step of one parameter; <paramref name="GradScale"/> multiplies the gradient first (clipping folded into the step; 1: none).</summary>
    public readonly record struct AdamWScalars(double DecayFactor, double Beta1, double Beta2, double Eps, double Bc2Sqrt, double NegStepSize, bool Amsgrad, bool Maximize, double GradScale = 1);

    /// <summary>
    /// AdamW: g *= scale; p *= 1 - lr*wd; m = m*b1 + (1-b1)*g; v = v*b2 + (1-b2)*g*g; vmax = max(vmax, v) under amsgrad;
    /// p += (-step_size * m) / (sqrt(v or vmax) / sqrt(bc2) + eps).
    /// </summary>
    public static void AdamW<T>(T* p, T* g, T* m, T* v, T* vmax, long n, AdamWScalars s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var k = new AdamWConstants<T>(s);
        CpuParallel.For(n, 16, (start, end) => AdamWRange(p, g, m, v, vmax, start, end, k));
    }

    private readonly struct AdamWConstants<T>(AdamWScalars s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        public readonly T Decay = T.CreateChecked(s.DecayFactor), B1 = T.CreateChecked(s.Beta1), OneMinusB1 = T.CreateChecked(1 - s.Beta1);
        public readonly T B2 = T.CreateChecked(s.Beta2), OneMinusB2 = T.CreateChecked(1 - s.Beta2), Eps = T.CreateChecked(s.Eps);
        public readonly T Bc2Sqrt = T.CreateChecked(s.Bc2Sqrt), NegStep = T.CreateChecked(s.NegStepSize);
        // The scale is rounded to T before it multiplies, as an in-place multiply of the gradient by a double does.
        public readonly T Scale = T.CreateChecked(s.GradScale);
        public readonly bool Amsgrad = s.Amsgrad, Maximize = s.Maximize, Scaled = s.GradScale != 1;
    }

    private static void AdamWRange<T>(T* p, T* g, T* m, T* v, T* vmax, long start, long end, AdamWConstants<T> k) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long i = start;
        if (Vector.IsHardwareAccelerated)
        {
            var decay = new Vector<T>(k.Decay); var b1 = new Vector<T>(k.B1); var omb1 = new Vector<T>(k.OneMinusB1);
            var b2 = new Vector<T>(k.B2); var omb2 = new Vector<T>(k.OneMinusB2); var eps = new Vector<T>(k.Eps);
            var bc2 = new Vector<T>(k.Bc2Sqrt); var negStep = new Vector<T>(k.NegStep); var scale = new Vector<T>(k.Scale);
            for (; i + Vector<T>.Count <= end; i += Vector<T>.Count)
            {
                var gi = Vector.Load(g + i);
                if (k.Scaled) gi *= scale;
                if (k.Maximize) gi = -gi;
                var pi = Vector.Load(p + i) * decay;
                var mi = Vector.Load(m + i) * b1;
                mi += omb1 * gi;
                var vi = Vector.Load(v + i) * b2;
                vi += omb2 * gi * gi;
                var si = vi;
                if (k.Amsgrad)
                {
                    si = Vector.Max(Vector.Load(vmax + i), vi);
                    si.Store(vmax + i);
                }
                var denom = Vector.SquareRoot(si) / bc2 + eps;
                pi += negStep * mi / denom;
                mi.Store(m + i);
                vi.Store(v + i);
                pi.Store(p + i);
            }
        }
        for (; i < end; i++)
        {
            var gi = k.Scaled ? g[i] * k.Scale : g[i];
            if (k.Maximize) gi = -gi;
            var pi = p[i] * k.Decay;
            var mi = m[i] * k.B1;
            mi += k.OneMinusB1 * gi;
            var vi = v[i] * k.B2;
            vi += k.OneMinusB2 * gi * gi;
            var si = vi;
            if (k.Amsgrad)
            {
                si = T.Max(vmax[i], vi);
                vmax[i] = si;
            }
            var denom = T.Sqrt(si) / k.Bc2Sqrt + k.Eps;
            pi += k.NegStep * mi / denom;
            m[i] = mi;
            v[i] = vi;
            p[i] = pi;
        }
    }

    /// <summary>The scalars of one SGD step; <paramref name="GradScale"/> multiplies the gradient first (1: none).</summary>
    public readonly record struct SgdScalars(double Lr, double WeightDecay, double Momentum, double Dampening, bool Nesterov, bool Maximize, bool FirstStep, double GradScale = 1);

    /// <summary>
    /// SGD: g *= scale; d = g + wd*p; buf = d on the first step, else buf*momentum + (1-dampening)*d; d = d + momentum*buf
    /// (nesterov) or buf; p += -lr*d. <paramref name="buf"/> is null when momentum is 0.
    /// </summary>
    public static void Sgd<T>(T* p, T* g, T* buf, long n, SgdScalars s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CpuParallel.For(n, 8, (start, end) => SgdRange(p, g, buf, start, end, s));
    }

    private static void SgdRange<T>(T* p, T* g, T* buf, long start, long end, SgdScalars s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T wd = T.CreateChecked(s.WeightDecay), momentum = T.CreateChecked(s.Momentum);
        T oneMinusDampening = T.CreateChecked(1 - s.Dampening), negLr = T.CreateChecked(-s.Lr), scale = T.CreateChecked(s.GradScale);
        bool decay = s.WeightDecay != 0, useMomentum = s.Momentum != 0, scaled = s.GradScale != 1;
        long i = start;
        if (Vector.IsHardwareAccelerated)
        {
            var vwd = new Vector<T>(wd); var vm = new Vector<T>(momentum);
            var vomd = new Vector<T>(oneMinusDampening); var vlr = new Vector<T>(negLr); var vscale = new Vector<T>(scale);
            for (; i + Vector<T>.Count <= end; i += Vector<T>.Count)
            {
                var d = Vector.Load(g + i);
                if (scaled) d *= vscale;
                if (s.Maximize) d = -d;
                var pi = Vector.Load(p + i);
                if (decay) d += vwd * pi;
                if (useMomentum)
                {
                    Vector<T> b;
                    if (s.FirstStep) b = d;
                    else
                    {
                        b = Vector.Load(buf + i) * vm;
                        b += vomd * d;
                    }
                    b.Store(buf + i);
                    d = s.Nesterov ? d + vm * b : b;
                }
                (pi + vlr * d).Store(p + i);
            }
        }
        for (; i < end; i++)
        {
            var d = scaled ? g[i] * scale : g[i];
            if (s.Maximize) d = -d;
            if (decay) d += wd * p[i];
            if (useMomentum)
            {
                T b;
                if (s.FirstStep) b = d;
                else
                {
                    b = buf[i] * momentum;
                    b += oneMinusDampening * d;
                }
                buf[i] = b;
                d = s.Nesterov ? d + momentum * b : b;
            }
            p[i] += negLr * d;
        }
    }

    /// <summary>EMA of weights (timm's ModelEmaV2): e = decay*e + (1-decay)*x.</summary>
    public static void Ema<T>(T* e, T* x, long n, double decay) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CpuParallel.For(n, 2, (start, end) => EmaRange(e, x, start, end, decay));
    }

    private static void EmaRange<T>(T* e, T* x, long start, long end, double decay) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T d = T.CreateChecked(decay), oneMinus = T.CreateChecked(1 - decay);
        long i = start;
        if (Vector.IsHardwareAccelerated)
        {
            var vd = new Vector<T>(d); var vo = new Vector<T>(oneMinus);
            for (; i + Vector<T>.Count <= end; i += Vector<T>.Count)
                (vd * Vector.Load(e + i) + vo * Vector.Load(x + i)).Store(e + i);
        }
        for (; i < end; i++) e[i] = d * e[i] + oneMinus * x[i];
    }
}
