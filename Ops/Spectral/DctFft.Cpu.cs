using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// The FFT path of the orthonormal 2-D DCT: each axis by one complex FFT of the same length (Makhoul's
/// reordering), in double whatever the storage dtype, through the engine's <see cref="Fft"/>.
/// </summary>
/// <remarks>
/// DCT-II of a row x of length N: v = [x0, x2, x4, …, x5, x3, x1] (evens up, odds back down), V = FFT(v),
/// X[k] = α_k · Re(e^{-iπk/2N} V[k]). The inverse undoes each step: with Z[k] = X[k]/α_k (Z[N] = 0),
/// W[k] = e^{iπk/2N} (Z[k] − i Z[N−k]), v = IFFT(W)/N, then the evens and odds go back in place. Rows
/// along W are contiguous; the H axis is transformed on a transposed copy. O(H·W·log(H·W)) per plane
/// against O(H·W·(H+W)) for the products, so it wins on large planes only (docs/ops-notes/dct.md).
/// </remarks>
internal static unsafe class DctFft
{
    public static bool Available => true;

    public static void Transform<T>(T* x, T* y, long batch, int h, int w, bool inverse) where T : unmanaged
    {
        if (batch == 0 || h == 0 || w == 0) return;
        long plane = (long)h * w;
        int total = checked((int)(batch * plane));
        var pool = System.Buffers.ArrayPool<double>.Shared;
        double[] a = pool.Rent(total), b = pool.Rent(total), re = pool.Rent(total), im = pool.Rent(total);
        try
        {
            nint xs = (nint)x, ys = (nint)y;
            CpuParallel.For(batch * h, w, (start, end) =>
            {
                for (long i = start * w; i < end * w; i++) a[i] = typeof(T) == typeof(float) ? ((float*)xs)[i] : ((double*)xs)[i];
            });
            Rows(a, re, im, batch * h, w, inverse);
            Transpose(a, b, batch, h, w);
            Rows(b, re, im, batch * w, h, inverse);
            Transpose(b, a, batch, w, h);
            CpuParallel.For(batch * h, w, (start, end) =>
            {
                for (long i = start * w; i < end * w; i++)
                {
                    if (typeof(T) == typeof(float)) ((float*)ys)[i] = (float)a[i];
                    else ((double*)ys)[i] = a[i];
                }
            });
        }
        finally
        {
            pool.Return(a); pool.Return(b); pool.Return(re); pool.Return(im);
        }
    }

    /// <summary>dst[p, j, i] = src[p, i, j] for (rows × cols) planes, in 32×32 tiles.</summary>
    private static void Transpose(double[] src, double[] dst, long batch, int rows, int cols)
    {
        const int tile = 32;
        long plane = (long)rows * cols;
        int tilesI = (rows + tile - 1) / tile;
        CpuParallel.For(batch * tilesI, (double)tile * cols, (start, end) =>
        {
            for (long t = start; t < end; t++)
            {
                long p = t / tilesI;
                int i0 = (int)(t % tilesI) * tile, i1 = Math.Min(rows, i0 + tile);
                for (int j0 = 0; j0 < cols; j0 += tile)
                {
                    int j1 = Math.Min(cols, j0 + tile);
                    for (int i = i0; i < i1; i++)
                        for (int j = j0; j < j1; j++)
                            dst[p * plane + (long)j * rows + i] = src[p * plane + (long)i * cols + j];
                }
            }
        });
    }

    /// <summary>The orthonormal DCT-II (or its inverse) of every contiguous row of length <paramref name="n"/>, in place; re and im are scratch.</summary>
    private static void Rows(double[] data, double[] re, double[] im, long rows, int n, bool inverse)
    {
        if (n == 1) return; // D_1 = [[1]]
        var (cos, sin, alpha) = DctBases.Twiddles(n);
        int half = (n + 1) / 2;
        CpuParallel.For(rows, 4.0 * n, (start, end) =>
        {
            for (long r = start; r < end; r++)
            {
                long o = r * n;
                if (!inverse)
                {
                    for (int j = 0; j < half; j++) re[o + j] = data[o + 2 * j];
                    for (int j = 0; j < n / 2; j++) re[o + n - 1 - j] = data[o + 2 * j + 1];
                    Array.Clear(im, (int)o, n);
                }
                else
                {
                    for (int k = 0; k < n; k++)
                    {
                        double zk = data[o + k] / alpha[k], zr = k == 0 ? 0 : data[o + n - k] / alpha[n - k];
                        re[o + k] = cos[k] * zk + sin[k] * zr;
                        im[o + k] = sin[k] * zk - cos[k] * zr;
                    }
                }
            }
        });
        Fft.Transform(re.AsSpan(0, checked((int)(rows * n))), im.AsSpan(0, (int)(rows * n)), n, checked((int)rows), inverse);
        CpuParallel.For(rows, 3.0 * n, (start, end) =>
        {
            for (long r = start; r < end; r++)
            {
                long o = r * n;
                if (!inverse)
                {
                    for (int k = 0; k < n; k++) data[o + k] = alpha[k] * (re[o + k] * cos[k] + im[o + k] * sin[k]);
                }
                else
                {
                    for (int j = 0; j < half; j++) data[o + 2 * j] = re[o + j] / n;
                    for (int j = 0; j < n / 2; j++) data[o + 2 * j + 1] = re[o + n - 1 - j] / n;
                }
            }
        });
    }
}
