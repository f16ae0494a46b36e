using Engine.Backends;
using Engine.Cuda.Kernels;

namespace Engine.Cuda.Runtime;

// Elementwise primitives: kernels generated from each op's CUDA formula (ElementwiseSource), one unit per
// op, compiled on the first use on each device. An op that declares no formula fails with Kernel.Missing.
internal sealed unsafe partial class CudaBackend
{
    public void Unary<TOp>(Tensor x, Tensor y, double a, double b) where TOp : IUnaryOp
    {
        long n = y.NumEl;
        if (n == 0) return;
        var kernel = Generated(x, "unary", typeof(TOp), ElementwiseSource.Unary<TOp>, TOp.Name, $"unary_{ElementwiseSource.Id(typeof(TOp))}_{Suffix(x.DType)}");
        var l = StridedArg.Joint(y.Layout.Shape, x, y);
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(x); args.Add(in l[0]);
        args.Add(y); args.Add(in l[1]);
        AddScalars(ref args, x.DType, a, b);
        args.Add(n);
        kernel.Launch(LaunchConfig.ForElements(n), args);
    }

    public void UnaryBackward<TOp>(Tensor g, Tensor x, Tensor y, Tensor gx, double a, double b) where TOp : IUnaryOp
    {
        long n = gx.NumEl;
        if (n == 0) return;
        var kernel = Generated(x, "unary", typeof(TOp), ElementwiseSource.Unary<TOp>, TOp.Name, $"unary_backward_{ElementwiseSource.Id(typeof(TOp))}_{Suffix(x.DType)}");
        var l = StridedArg.Joint(gx.Layout.Shape, g, x, y, gx);
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(g); args.Add(in l[0]);
        args.Add(x); args.Add(in l[1]);
        args.Add(y); args.Add(in l[2]);
        args.Add(gx); args.Add(in l[3]);
        AddScalars(ref args, x.DType, a, b);
        args.Add(n);
        kernel.Launch(LaunchConfig.ForElements(n), args);
    }

    public void Binary<TOp>(Tensor x, Tensor y, Tensor z) where TOp : IBinaryOp
    {
        long n = z.NumEl;
        if (n == 0) return;
        var kernel = Generated(z, "binary", typeof(TOp), ElementwiseSource.Binary<TOp>, TOp.Name, $"binary_{ElementwiseSource.Id(typeof(TOp))}_{Suffix(z.DType)}");
        LaunchThree(kernel, x, y, z, n);
    }

    // Two launches of the product kernel: the fused CPU loop saves a pass over g, which matters less here than a
    // second generated kernel would cost to keep.
    public void ProductGradients(Tensor g, Tensor x, Tensor y, Tensor gx, Tensor gy)
    {
        Binary<MulOp>(g, y, gx);
        Binary<MulOp>(g, x, gy);
    }

    // The four operations one by one, gy's in place (each element is read before it is written).
    public void QuotientGradients(Tensor g, Tensor y, Tensor z, Tensor gx, Tensor gy)
    {
        Binary<DivOp>(g, y, gx);
        Binary<DivOp>(z, y, gy);
        Binary<MulOp>(g, gy, gy);
        Unary<NegOp>(gy, gy, 0, 0);
    }

    public void Compare<TOp>(Tensor x, Tensor y, Tensor z) where TOp : ICompareOp
    {
        long n = z.NumEl;
        if (n == 0) return;
        var kernel = Generated(x, "compare", typeof(TOp), ElementwiseSource.Compare<TOp>, TOp.Name, $"compare_{ElementwiseSource.Id(typeof(TOp))}_{Suffix(x.DType)}");
        LaunchThree(kernel, x, y, z, n);
    }

    public void Where(Tensor cond, Tensor x, Tensor y, Tensor z)
    {
        long n = z.NumEl;
        if (n == 0) return;
        var kernel = KernelFor(z, "where.cu", "where_" + Suffix(z.DType));
        var l = StridedArg.Joint(z.Layout.Shape, cond, x, y, z);
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(cond); args.Add(in l[0]);
        args.Add(x); args.Add(in l[1]);
        args.Add(y); args.Add(in l[2]);
        args.Add(z); args.Add(in l[3]);
        args.Add(n);
        kernel.Launch(LaunchConfig.ForElements(n), args);
    }

    private static void LaunchThree(CudaKernel kernel, Tensor x, Tensor y, Tensor z, long n)
    {
        var l = StridedArg.Joint(z.Layout.Shape, x, y, z);
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(x); args.Add(in l[0]);
        args.Add(y); args.Add(in l[1]);
        args.Add(z); args.Add(in l[2]);
        args.Add(n);
        kernel.Launch(LaunchConfig.ForElements(n), args);
    }

    /// <summary>The scalar parameters in the tensor's dtype, as the CPU kernels round them.</summary>
    private static void AddScalars(ref KernelArgs args, DType dtype, double a, double b)
    {
        if (dtype == DType.F32) { args.Add((float)a); args.Add((float)b); }
        else { args.Add(a); args.Add(b); }
    }

    /// <summary>The kernel <paramref name="kernel"/> of an op's generated unit on <paramref name="on"/>'s device.</summary>
    private static CudaKernel Generated(Tensor on, string kind, Type op, Func<string?> source, string opName, string kernel)
    {
        if (!on.DType.IsFloatingPoint() && kind != "compare") throw Kernel.Missing(opName, on);
        var device = DeviceOf(on);
        var module = device.Module(ElementwiseSource.UnitName(kind, op), () => source() ?? throw Kernel.Missing(opName, on));
        return module.Get(kernel);
    }
}
