using Engine.Cpu;
using static Engine.Ops.AdaptiveFilterKernels;

namespace Engine.Ops;

/// <summary>The AFF mixer's pieces on the CPU: the dtype switch onto <see cref="AdaptiveFilterKernels"/>, on host pointers.</summary>
internal static unsafe class AdaptiveFilterCpu
{
    public static void LinearForward(Tensor x, Tensor w, Tensor? b, Tensor y, GroupShape s) =>
        Dispatch(x.DType, x, w, b, y, (xp, wp, bp, yp) => AdaptiveFilterKernels.LinearForward(xp, wp, bp, yp, s),
            (xp, wp, bp, yp) => AdaptiveFilterKernels.LinearForward(xp, wp, bp, yp, s));

    public static void LinearInputGrad(Tensor g, Tensor w, Tensor dx, GroupShape s) =>
        Dispatch(g.DType, g, w, null, dx, (gp, wp, _, dp) => AdaptiveFilterKernels.LinearInputGrad(gp, wp, dp, s),
            (gp, wp, _, dp) => AdaptiveFilterKernels.LinearInputGrad(gp, wp, dp, s));

    /// <summary>Accumulates into <paramref name="dw"/> and <paramref name="db"/>, which start at zero.</summary>
    public static void LinearParamGrad(Tensor x, Tensor g, Tensor? dw, Tensor? db, GroupShape s) =>
        Dispatch(g.DType, x, g, dw, db, (xp, gp, wp, bp) => AdaptiveFilterKernels.LinearParamGrad(xp, gp, wp, bp, s),
            (xp, gp, wp, bp) => AdaptiveFilterKernels.LinearParamGrad(xp, gp, wp, bp, s));

    public static void Multiply(Tensor a, Tensor b, Tensor y, long pairs) =>
        Dispatch(a.DType, a, b, null, y, (ap, bp, _, yp) => AdaptiveFilterKernels.Multiply(ap, bp, yp, pairs),
            (ap, bp, _, yp) => AdaptiveFilterKernels.Multiply(ap, bp, yp, pairs));

    public static void MultiplyGrad(Tensor g, Tensor a, Tensor b, Tensor? da, Tensor? db, long pairs) =>
        Dispatch(g.DType, g, a, b, da, (gp, ap, bp, dap) => AdaptiveFilterKernels.MultiplyGrad(gp, ap, bp, dap, Ptr<double>(db), pairs),
            (gp, ap, bp, dap) => AdaptiveFilterKernels.MultiplyGrad(gp, ap, bp, dap, Ptr<float>(db), pairs));

    private delegate void Kernel4<T>(T* a, T* b, T* c, T* d) where T : unmanaged;

    private static T* Ptr<T>(Tensor? t) where T : unmanaged => t is null ? null : CpuBackend.Ptr<T>(t);

    /// <summary>Runs the kernel of the dtype on the tensors' pointers (null tensors give null pointers).</summary>
    private static void Dispatch(DType dtype, Tensor? a, Tensor? b, Tensor? c, Tensor? d, Kernel4<double> f64, Kernel4<float> f32)
    {
        if (dtype == DType.F64) f64(Ptr<double>(a), Ptr<double>(b), Ptr<double>(c), Ptr<double>(d));
        else f32(Ptr<float>(a), Ptr<float>(b), Ptr<float>(c), Ptr<float>(d));
    }
}
