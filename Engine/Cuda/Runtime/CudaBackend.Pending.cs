using Engine.Backends;

namespace Engine.Cuda.Runtime;

// The primitives whose CUDA kernels are not written yet: each fails with the one shared message.
internal sealed partial class CudaBackend
{
    public void Unary<TOp>(Tensor x, Tensor y, double a, double b) where TOp : IUnaryOp => throw Kernel.Missing(TOp.Name, x);

    public void UnaryBackward<TOp>(Tensor g, Tensor x, Tensor y, Tensor gx, double a, double b) where TOp : IUnaryOp => throw Kernel.Missing(TOp.Name + "_backward", x);

    public void Binary<TOp>(Tensor x, Tensor y, Tensor z) where TOp : IBinaryOp => throw Kernel.Missing(TOp.Name, x);

    public void Compare<TOp>(Tensor x, Tensor y, Tensor z) where TOp : ICompareOp => throw Kernel.Missing(TOp.Name, x);

    public void Where(Tensor cond, Tensor x, Tensor y, Tensor z) => throw Kernel.Missing("where", x);

    public void Reduce(ReduceKind kind, Tensor x, int[] axes, Tensor y) => throw Kernel.Missing(kind.ToString().ToLowerInvariant(), x);

    public void MatMul(Tensor a, Tensor bm, Tensor c) => throw Kernel.Missing("matmul", a);

    public void Random(Tensor dst, RandomDistribution distribution, ulong seed, ulong offset, double p0, double p1) => throw Kernel.Missing("random", dst);

    public void RandomInteger(Tensor dst, ulong seed, ulong offset, long low, long high) => throw Kernel.Missing("randint", dst);

    public void IndexSelect(Tensor x, int dim, Tensor index, Tensor y) => throw Kernel.Missing("index_select", x);

    public void IndexAdd(Tensor dst, int dim, Tensor index, Tensor src) => throw Kernel.Missing("index_add", dst);

    public void Gather(Tensor x, int dim, Tensor index, Tensor y) => throw Kernel.Missing("gather", x);

    public void ScatterAdd(Tensor dst, int dim, Tensor index, Tensor src) => throw Kernel.Missing("scatter_add", dst);
}
