using System.Numerics;

namespace Engine.Cpu;

/// <summary>
/// The GotoBLAS/BLIS loop nest around a micro-kernel <typeparamref name="K"/>:
/// <c>jc</c> (NC columns of B) → <c>pc</c> (KC of depth; B block packed, shared by all workers) →
/// per worker: <c>ic</c> (MC rows of A, packed privately) → <c>jr</c> (one B micro-panel, stays in L1)
/// → <c>ir</c> (one A micro-panel) → kernel.
/// </summary>
/// <remarks>
/// Determinism: workers split the grid of MR x NR tiles, never k. The tile grid is anchored at
/// (0, 0) and the k blocking is fixed, so every element of C sees the same sequence of operations
/// whatever the thread count; only who performs them changes.
/// </remarks>
internal static unsafe class GemmDriver<T, K>
    where T : unmanaged, IFloatingPointIeee754<T>
    where K : struct, IGemmKernel<T>
{
    // Below this many multiply-adds per worker, waking another thread costs more than it saves.
    private const long MinWorkPerTask = 1L << 20;

    public static void Run(int m, int n, int k, T alpha, T* a, long ars, long acs, T* b, long brs, long bcs,
        T beta, T* c, long rsc)
    {
        long work = (long)m * n * k;
        int tasks = CpuParallel.InsideParallelRegion
            ? 1
            : (int)Math.Clamp(work / MinWorkPerTask, 1, CpuParallel.ThreadCount);
        new Job(m, n, k, alpha, a, ars, acs, b, brs, bcs, beta, c, rsc, tasks).Execute();
    }

    private sealed class Job
    {
        private readonly int _m, _n, _k, _tasks;
        private readonly T _alpha, _beta;
        private readonly T* _a, _b, _c;
        private readonly long _ars, _acs, _brs, _bcs, _rsc;
        private readonly bool _splitM;
        private readonly Action<long, long> _packB;
        private readonly Action<int> _compute;

        // Current (jc, pc) block, set before each fork.
        private int _jc, _nc, _pc, _kc;
        private T _betaBlock;
        private T* _bPacked;

        public Job(int m, int n, int k, T alpha, T* a, long ars, long acs, T* b, long brs, long bcs,
            T beta, T* c, long rsc, int tasks)
        {
            (_m, _n, _k, _alpha, _beta, _tasks) = (m, n, k, alpha, beta, tasks);
            _a = a; _b = b; _c = c;
            (_ars, _acs, _brs, _bcs, _rsc) = (ars, acs, brs, bcs, rsc);
            // Splitting M shares one packed B among workers and packs each A row once; when M has too
            // few micro-panels to balance, split the columns instead (each worker then packs all of A,
            // which is small in exactly that case).
            long mPanels = (m + K.MR - 1) / K.MR;
            long nPanels = (Math.Min(n, K.NC) + K.NR - 1) / K.NR;
            _splitM = mPanels >= 4L * tasks || mPanels >= nPanels;
            _packB = PackB;
            _compute = Compute;
        }

        public void Execute()
        {
            int nr = K.NR;
            long bBytes = (long)Math.Min(_k, K.KC) * ((Math.Min(_n, K.NC) + nr - 1) / nr * nr) * sizeof(T);
            _bPacked = (T*)GemmBuffer.PackedB.Get(bBytes);

            for (int jc = 0; jc < _n; jc += K.NC)
            {
                _jc = jc;
                _nc = Math.Min(K.NC, _n - jc);
                long panels = (_nc + nr - 1) / nr;
                for (int pc = 0; pc < _k; pc += K.KC)
                {
                    _pc = pc;
                    _kc = Math.Min(K.KC, _k - pc);
                    // Later k blocks accumulate onto what the first one wrote.
                    _betaBlock = pc == 0 ? _beta : T.One;

                    if (_tasks == 1)
                    {
                        PackB(0, panels);
                        Compute(0);
                    }
                    else
                    {
                        CpuParallel.For(panels, (double)_kc * nr, _packB);
                        CpuParallel.ForEachTask(_tasks, _compute);
                    }
                }
            }
        }

        private void PackB(long first, long end) =>
            GemmPack.Pack(_bPacked, _b + _pc * _brs + _jc * _bcs, _bcs, _brs, _nc, _kc, K.NR, first, end);

        private void Compute(int task)
        {
            int mr = K.MR, nr = K.NR, kc = _kc, nc = _nc;
            int rowBegin = 0, rowEnd = _m;
            long panelBegin = 0, panelEnd = (nc + nr - 1) / nr;
            if (_splitM)
            {
                long mPanels = (_m + mr - 1) / mr;
                rowBegin = (int)(mPanels * task / _tasks * mr);
                rowEnd = (int)Math.Min(_m, mPanels * (task + 1) / _tasks * mr);
            }
            else
            {
                long all = panelEnd;
                panelBegin = all * task / _tasks;
                panelEnd = all * (task + 1) / _tasks;
            }
            if (rowBegin >= rowEnd || panelBegin >= panelEnd) return;

            long aElems = (long)K.MC * K.KC;
            T* aPacked = (T*)GemmBuffer.PackedA.Get((aElems + mr * nr) * sizeof(T));
            T* tile = aPacked + aElems;
            T alpha = _alpha, beta = _betaBlock;

            for (int ic = rowBegin; ic < rowEnd; ic += K.MC)
            {
                int mc = Math.Min(K.MC, rowEnd - ic);
                GemmPack.Pack(aPacked, _a + ic * _ars + _pc * _acs, _ars, _acs, mc, kc, mr, 0, (mc + mr - 1) / mr);

                for (long jr = panelBegin; jr < panelEnd; jr++)
                {
                    T* bp = _bPacked + jr * nr * kc;
                    int ncur = (int)Math.Min(nr, nc - jr * nr);
                    T* cCol = _c + (long)ic * _rsc + _jc + jr * nr;
                    for (int ir = 0; ir < mc; ir += mr)
                    {
                        int mcur = Math.Min(mr, mc - ir);
                        T* ap = aPacked + (long)ir * kc;
                        T* cp = cCol + ir * _rsc;
                        if (mcur == mr && ncur == nr)
                        {
                            K.Run(kc, ap, bp, cp, _rsc, alpha, beta);
                        }
                        else
                        {
                            K.Run(kc, ap, bp, tile, nr, T.One, T.Zero);
                            GemmSmall.UpdateEdge(tile, nr, cp, _rsc, mcur, ncur, alpha, beta, K.Fused);
                        }
                    }
                }
            }
        }
    }
}
