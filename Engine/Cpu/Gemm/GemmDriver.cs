using System.Numerics;

namespace Engine.Cpu;

/// <summary>
/// The GotoBLAS/BLIS loop nest around a micro-kernel <typeparamref name="K"/>:
/// <c>jc</c> (NC columns of B) → <c>pc</c> (KC of depth; B block packed once, shared by all workers) →
/// per worker: <c>ic</c> (MC rows of A, packed privately) → <c>jr</c> (one B micro-panel, stays in L1)
/// → <c>ir</c> (one A micro-panel) → kernel.
/// </summary>
/// <remarks>
/// <para>
/// Determinism: workers split the grid of MR x NR tiles, never k. The tile grid is anchored at
/// (0, 0), the k blocking is fixed and each worker walks its tiles through the k blocks in order, so
/// every element of C sees the same sequence of operations whatever the thread count.
/// </para>
/// <para>
/// Synchronisation: a fork/join costs tens of microseconds, as much as a whole 256^3 product, so
/// one fork covers as many k blocks as the packed-B budget holds. Inside it there is no barrier
/// (workers may even run one after another on one thread); instead each packed B micro-panel has a
/// flag, and the first worker to need a panel packs it while any other that needs it waits.
/// </para>
/// </remarks>
internal static unsafe class GemmDriver<T, K>
    where T : unmanaged, IFloatingPointIeee754<T>
    where K : struct, IGemmKernel<T>
{
    // Below this many multiply-adds per worker, waking another thread costs more than it saves.
    private const long MinWorkPerTask = 1L << 20;

    // Packed B kept per fork; more k blocks per fork means fewer forks but more resident memory.
    private const long PackedBBudgetBytes = 8L << 20;

    private const int Empty = 0, Packing = 1, Packed = 2;

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
        private readonly Action<int> _compute;

        // Work items: a grid of _rowChunks x _colChunks, rows in chunks of _rowChunk (a multiple of MR,
        // at most MC), columns as equal shares of the B panels.
        private readonly int _rowChunk, _rowChunks;
        private readonly bool _splitM;
        private readonly int _itemsWanted;
        private int _colChunks, _nextItem;

        // Packed B for up to _slots k blocks of the current jc block: slot s holds k block
        // (_pcFirst + s), as _panels micro-panels of KC x NR each; _flags has one state per panel.
        private readonly int _slots;
        private readonly long _panelsMax;
        private T* _bPacked;
        private int* _flags;

        // Current fork: columns [_jc, _jc + _nc), k blocks starting at _pcFirst, _slotCount of them.
        private int _jc, _nc, _pcFirst, _slotCount;
        private long _panels;

        public Job(int m, int n, int k, T alpha, T* a, long ars, long acs, T* b, long brs, long bcs,
            T beta, T* c, long rsc, int tasks)
        {
            (_m, _n, _k, _alpha, _beta, _tasks) = (m, n, k, alpha, beta, tasks);
            _a = a; _b = b; _c = c;
            (_ars, _acs, _brs, _bcs, _rsc) = (ars, acs, brs, bcs, rsc);

            _panelsMax = (Math.Min(n, K.NC) + K.NR - 1) / K.NR;
            long slotBytes = (long)K.KC * _panelsMax * K.NR * sizeof(T);
            int kBlocks = (k + K.KC - 1) / K.KC;
            _slots = (int)Math.Clamp(PackedBBudgetBytes / slotBytes, 1, kBlocks);

            // Prefer splitting M: workers then share packed B and each row of A is packed once. With
            // too few rows for that, split the columns instead (every item then packs all of A, which
            // is small in exactly that case). Several items per worker let early finishers take up slack.
            long mPanels = (m + K.MR - 1) / K.MR;
            int itemsWanted = tasks == 1 ? 1 : 4 * tasks;
            _splitM = mPanels >= itemsWanted || mPanels >= _panelsMax;
            long chunkPanels = _splitM ? Math.Clamp((mPanels + itemsWanted - 1) / itemsWanted, 1, K.MC / K.MR) : mPanels;
            _rowChunk = (int)Math.Min(int.MaxValue / 2, chunkPanels * K.MR);
            _rowChunks = (int)((m + _rowChunk - 1) / _rowChunk);
            _itemsWanted = itemsWanted;
            _compute = Compute;
        }

        public void Execute()
        {
            _bPacked = (T*)GemmBuffer.PackedB.Get(_slots * (long)K.KC * _panelsMax * K.NR * sizeof(T));
            _flags = (int*)GemmBuffer.PanelFlags.Get(_slots * _panelsMax * sizeof(int));

            for (int jc = 0; jc < _n; jc += K.NC)
            {
                _jc = jc;
                _nc = Math.Min(K.NC, _n - jc);
                _panels = (_nc + K.NR - 1) / K.NR;
                for (int pc = 0; pc < _k; pc += _slots * K.KC)
                {
                    _pcFirst = pc;
                    _slotCount = Math.Min(_slots, (_k - pc + K.KC - 1) / K.KC);
                    new Span<int>(_flags, (int)(_slotCount * _panels)).Clear();
                    _colChunks = _splitM ? 1 : (int)Math.Min(_panels, _itemsWanted);
                    _nextItem = 0;
                    if (_tasks == 1) Compute(0);
                    else CpuParallel.ForEachTask(_tasks, _compute);
                }
            }
        }

        // One worker: claims items until none are left. Items are claimed dynamically so that a
        // thread that starts late (the pool is slow to wake) just takes fewer; which thread computes
        // a tile does not change its arithmetic.
        private void Compute(int task)
        {
            while (true)
            {
                int item = Interlocked.Increment(ref _nextItem) - 1;
                if (item >= _rowChunks * _colChunks) return;
                ComputeItem(item / _colChunks, item % _colChunks);
            }
        }

        // Rows [rc * _rowChunk, ...) x B panels [cc-th share of _panels), through every k block of the fork.
        private void ComputeItem(int rc, int cc)
        {
            int mr = K.MR, nr = K.NR;
            int rowBegin = rc * _rowChunk, rowEnd = (int)Math.Min(_m, (long)rowBegin + _rowChunk);
            long panelBegin = _panels * cc / _colChunks, panelEnd = _panels * (cc + 1) / _colChunks;
            long span = panelEnd - panelBegin;
            // Start workers at different B panels so they do not all queue on the same one to be packed.
            long rotate = span * rc / _rowChunks;

            long aElems = (long)K.MC * K.KC;
            T* aPacked = (T*)GemmBuffer.PackedA.Get((aElems + mr * nr) * sizeof(T));
            T* tile = aPacked + aElems;
            T alpha = _alpha;

            for (int slot = 0; slot < _slotCount; slot++)
            {
                int pc = _pcFirst + slot * K.KC;
                int kc = Math.Min(K.KC, _k - pc);
                // Later k blocks accumulate onto what the first one wrote.
                T beta = pc == 0 ? _beta : T.One;
                T* bSlot = _bPacked + slot * (long)K.KC * _panelsMax * nr;
                int* flags = _flags + slot * _panels;

                for (int ic = rowBegin; ic < rowEnd; ic += K.MC)
                {
                    int mc = Math.Min(K.MC, rowEnd - ic);
                    GemmPack.Pack(aPacked, _a + ic * _ars + pc * _acs, _ars, _acs, mc, kc, mr, 0, (mc + mr - 1) / mr);

                    for (long step = 0; step < span; step++)
                    {
                        long jr = panelBegin + (step + rotate) % span;
                        EnsurePacked(flags, jr, bSlot, pc, kc);
                        T* bp = bSlot + jr * nr * kc;
                        int ncur = (int)Math.Min(nr, _nc - jr * nr);
                        T* cCol = _c + ic * _rsc + _jc + jr * nr;
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

        // Makes B micro-panel jr of a k block available: pack it if nobody has, wait if someone is.
        // Never deadlocks: a panel is only ever claimed by a worker that packs it straight away.
        private void EnsurePacked(int* flags, long jr, T* bSlot, int pc, int kc)
        {
            int* flag = flags + jr;
            if (Volatile.Read(ref *flag) == Packed) return;
            if (Interlocked.CompareExchange(ref *flag, Packing, Empty) == Empty)
            {
                GemmPack.Pack(bSlot, _b + pc * _brs + _jc * _bcs, _bcs, _brs, _nc, kc, K.NR, jr, jr + 1);
                Volatile.Write(ref *flag, Packed);
                return;
            }
            var spin = new SpinWait();
            while (Volatile.Read(ref *flag) != Packed) spin.SpinOnce(sleep1Threshold: -1);
        }
    }
}
