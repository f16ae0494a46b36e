using Engine.Cpu;

namespace Engine.Ops;

/// <summary>CPU pieces of the linear layer besides the GEMMs: the bias rows and the bias gradient.</summary>
internal static unsafe class LinearKernels
{
    private const int ColumnTile = 256;

    /// <summary>Copies the <paramref name="n"/>-element <paramref name="bias"/> into each of the <paramref name="m"/> rows of <paramref name="c"/>.</summary>
    public static void FillRows<T>(T* c, long m, int n, T* bias) where T : unmanaged
    {
        CpuParallel.For(m, n, (start, end) =>
        {
            var row = new ReadOnlySpan<T>(bias, n);
            for (long i = start; i < end; i++) row.CopyTo(new Span<T>(c + i * n, n));
        });
    }

    /// <summary>
    /// Column sums of an (m, n) matrix with contiguous rows <paramref name="rowStride"/> apart, added in row
    /// order in double: each tile of columns is summed by one thread, whatever the thread count.
    /// </summary>
    public static void SumRows<T>(T* g, long m, int n, long rowStride, double[] sums) where T : unmanaged
    {
        long tiles = (n + ColumnTile - 1) / ColumnTile;
        CpuParallel.For(tiles, 2.0 * m * ColumnTile, (start, end) =>
        {
            var scratch = new double[ColumnTile];
            fixed (double* s = scratch, acc = sums)
            {
                for (long tile = start; tile < end; tile++)
                {
                    int j0 = (int)tile * ColumnTile, width = Math.Min(ColumnTile, n - j0);
                    for (long i = 0; i < m; i++) Wide.Add(acc + j0, Wide.Load(g + i * rowStride + j0, width, s), width);
                }
            }
        });
    }
}
