using System.Numerics;

namespace Engine.Cpu;

/// <summary>
/// Fallback micro-kernel for machines without FMA (or when forced by tests). It keeps the AVX2
/// kernels' tile shape and blocking so packing is shared, and uses <see cref="Vector{T}"/> when the
/// tile width is a whole number of vectors, scalars otherwise.
/// </summary>
/// <remarks>
/// Deliberately unfused (multiply then add): without hardware FMA, a fused multiply-add is a slow
/// software routine. The loop order (one accumulator per row slice, scanning k) keeps each
/// accumulator in a register; re-reading the B micro-panel per row is cheap because it sits in L1.
/// </remarks>
internal unsafe struct PortableKernel<T> : IGemmKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int MR => 6;
    public static int NR => 64 / sizeof(T);
    public static int MC => typeof(T) == typeof(float) ? Avx2KernelF32.MC : Avx2KernelF64.MC;
    public static int KC => typeof(T) == typeof(float) ? Avx2KernelF32.KC : Avx2KernelF64.KC;
    public static int NC => typeof(T) == typeof(float) ? Avx2KernelF32.NC : Avx2KernelF64.NC;
    public static bool Fused => false;

    public static void Run(int kc, T* a, T* b, T* c, long rsc, T* alphaBeta)
    {
        T alpha = alphaBeta[0], beta = alphaBeta[1];
        int mr = MR, nr = NR;
        bool vectorised = Vector.IsHardwareAccelerated && nr % Vector<T>.Count == 0;
        int step = vectorised ? Vector<T>.Count : 1;
        for (int i = 0; i < mr; i++)
        {
            T* ci = c + i * rsc;
            for (int j = 0; j < nr; j += step)
            {
                T* ap = a + i;
                T* bp = b + j;
                if (vectorised)
                {
                    Vector<T> acc = Vector<T>.Zero;
                    for (int p = 0; p < kc; p++, ap += mr, bp += nr)
                        acc += new Vector<T>(*ap) * Vector.Load(bp);
                    Vector<T> r = new Vector<T>(alpha) * acc;
                    if (beta != T.Zero) r += new Vector<T>(beta) * Vector.Load(ci + j);
                    r.Store(ci + j);
                }
                else
                {
                    T acc = T.Zero;
                    for (int p = 0; p < kc; p++, ap += mr, bp += nr)
                        acc += *ap * *bp;
                    ci[j] = beta == T.Zero ? alpha * acc : alpha * acc + beta * ci[j];
                }
            }
        }
    }
}
