using System.Numerics;
using System.Runtime.CompilerServices;

namespace Engine.Cpu;

/// <summary>
/// The GotoBLAS/BLIS loop nest around a micro-kernel <typeparamref name="K"/>:
/// <c>jc</c> (NC columns of B) → <c>pc</c> (KC of depth; that B block packed once, shared by all
/// workers) → work items of MC-or-fewer rows (A block packed privately) → <c>jr</c> (one B
/// micro-panel, stays in L1) → <c>ir</c> (one A micro-panel) → kernel.
/// </summary>
/// <remarks>
/// <para>
/// Determinism: workers split the grid of MR x NR tiles, never k. The tile grid is anchored at
/// (0, 0), the k blocking is fixed and every tile goes through the k blocks in order, so every
/// element of C sees the same sequence of operations whatever the thread count or the schedule.
/// </para>
/// <para>
/// Synchronisation: one fork per (jc, pc) block and no barrier inside it; or, for a deep product whose whole
/// B (all k blocks of a column block) packs into a few MiB, one fork per jc block in which each work item
/// walks the k blocks in order (the same operations per element, without k / KC forks). Each packed B micro-panel
/// has a flag; the first worker that needs a panel packs it while any other that needs it waits, so
/// B is packed in parallel without a separate packing fork. Work items are claimed dynamically,
/// about four per worker, so a worker that starts late or is preempted just takes fewer.
/// </para>
/// </remarks>
internal static unsafe partial class GemmDriver<T, K>
    where T : unmanaged, IFloatingPointIeee754<T>
    where K : struct, IGemmKernel<T>
{
    // Below this many multiply-adds per worker, waking another thread costs more than it saves.
    private const long MinWorkPerTask = 1L << 20;

    private const int Empty = 0, Packing = 1, Packed = 2;

    // Largest packed B (all k blocks of one column block) that a deep product packs whole to run in one fork.
    private const long WholeBBytes = 4L << 20;

    // Fewest A micro-panels per row item when one fork covers all k blocks (each item then streams all of the packed B).
    private const long MinAllKRowPanels = 8;

    // Multiply-adds from which the short-wide-A column split and the larger all-k row items apply. Both were measured on
    // products of 2^28 (conv2d_1x1's); applied to every size, vHeat-Nano's train step (small products, where the second
    // worker's wake-up and the calling thread's packing of the shared A weigh more, and fewer items balance worse)
    // took 21-27 ms against main's 17-27 in 4 alternating pairs (bench model, 2 threads, load 1.5-1.8, 2026-12-08).
    private const double LargeWork = 1L << 26;

    private static bool Large(int m, int n, int k) => (double)m * n * k >= LargeWork;

    // Multiply-adds between which a product in one k block gets twice the default row items (RowItems).
    private const double FineRowItemsFrom = 1L << 24, FineRowItemsUpTo = 1L << 28;

    // Largest A (one k block) for which the items split the columns however many rows it has: it stays in L1.
    private const long TinyABytes = 32L << 10;

    // Largest A packed once for a whole call when the items split the columns (each would otherwise pack all of it).
    private const long SharedABytes = 1L << 20;

    public static void Run(int m, int n, int k, T alpha, T* a, long ars, long acs, T* b, long brs, long bcs,
        T beta, T* c, long rsc)
    {
        new Job(m, n, k, alpha, a, ars, acs, b, brs, bcs, beta, c, rsc, Tasks(m, n, k)).Execute();
    }

    /// <summary>
    /// The same product with operands that pack themselves (either may be null: then the strided pointer is
    /// read) and a C split into column blocks: column j of C lives at
    /// <c>c + (j / cBlock) * cBlockStride + j % cBlock</c> (a batch of images' (Cout, Ho·Wo) outputs);
    /// <paramref name="cBlock"/> 0 means one block.
    /// </summary>
    public static void Run(int m, int n, int k, T alpha, GemmOperand<T>? aOp, T* a, long ars, long acs,
        GemmOperand<T>? bOp, T* b, long brs, long bcs, T beta, T* c, long rsc, int cBlock, long cBlockStride)
    {
        var job = new Job(m, n, k, alpha, a, ars, acs, b, brs, bcs, beta, c, rsc, Tasks(m, n, k));
        job.SetOperands(aOp, bOp, cBlock, cBlockStride);
        job.Execute();
    }

    /// <summary>
    /// The same product with A packed beforehand (<see cref="PackWholeA"/>, for this kernel, m x k): no A packing.
    /// B as in the operand overload.
    /// </summary>
    public static void Run(int m, int n, int k, T alpha, T* aPacked, GemmOperand<T>? bOp, T* b, long brs, long bcs,
        T beta, T* c, long rsc, int cBlock, long cBlockStride)
    {
        var job = new Job(m, n, k, alpha, null, 0, 0, b, brs, bcs, beta, c, rsc, Tasks(m, n, k));
        job.SetOperands(null, bOp, cBlock, cBlockStride);
        job.SetPackedA(aPacked);
        job.Execute();
    }

    /// <summary>Elements of an m x k A packed whole by <see cref="PackWholeA"/>: m rounded up to whole panels, times k.</summary>
    internal static long WholeAElements(int m, int k) => ((long)m + K.MR - 1) / K.MR * K.MR * k;

    /// <summary>
    /// Packs all of the m x k matrix A[i, p] = a[i * ars + p * acs] to <paramref name="dst"/> (<see cref="WholeAElements"/>
    /// elements) as a call packs an A it shares whole: k block by k block (the block at k offset pc at
    /// <c>dst + pc * mPadded</c>), MR-row panels within a block.
    /// </summary>
    internal static void PackWholeA(T* dst, int m, int k, T* a, long ars, long acs)
    {
        int kcBlock = KBlockDepth(k);
        long mPanels = (m + K.MR - 1) / K.MR;
        for (int pc = 0; pc < k; pc += kcBlock)
            GemmPack.Pack(dst + pc * mPanels * K.MR, a + pc * acs, ars, acs, m, Math.Min(kcBlock, k - pc), K.MR, 0, mPanels);
    }

    /// <summary>The depth of the k blocks of a product of depth <paramref name="k"/>: ceil(k / blocks) for the fewest blocks of at most KC.</summary>
    internal static int KBlockDepth(int k)
    {
        int blocks = Math.Max(1, (k + K.KC - 1) / K.KC);
        return (k + blocks - 1) / blocks;
    }

    // Row items of a mid-size product in one k block (one fork): twice the default, 2-3 A panels each for 512^3 (43
    // panels in 16 items) instead of 5-6 (8 items). Dynamic claiming ends a fork with one worker idle for up to an
    // item; the smaller items cost almost nothing here: the 12 x 32 tile's B panel (kc x 32) is past L1 at k 512, so
    // every A panel reads it from L2 however many panels an item has, and the A packing is the same in total.
    // Forward 512^3, 2 threads, 8 vs 16 items alternated in one process (min of 400, loaded 2-vCPU Zen 4 VM, load
    // 25-39, 2026-12-08): 1.295 / 1.318 / 1.288 / 1.296 / 1.436 ms against 1.250 / 1.270 / 1.250 / 1.243 / 1.408 in
    // five processes (this rule against CpuGemm.CoarseRowItems, three more: 1.308 / 1.355 / 1.289 against 1.265 / 1.325 /
    // 1.248); 384^3 (32 panels: 8 equal items) and 640^3 level. The split decision (Job) still counts the
    // default items; only the row chunks change, never an element's operations.
    internal static int RowItems(int items, int m, int n, int k, int kBlocks)
    {
        double work = (double)m * n * k;
        bool mid = items > 1 && kBlocks == 1 && work >= FineRowItemsFrom && work <= FineRowItemsUpTo
            && CpuGemm.ItemsPerWorker == CpuGemm.DefaultItemsPerWorker && !CpuGemm.CoarseRowItems;
        return mid ? 2 * items : items;
    }

    private static int Tasks(int m, int n, int k)
    {
        double work = (double)m * n * k; // a long could overflow
        return CpuParallel.InsideParallelRegion ? 1 : (int)Math.Clamp(work / MinWorkPerTask, 1, CpuParallel.ThreadCount);
    }

    private sealed partial class Job
    {
        // The problem.
        private readonly int _m, _n, _k;
        private readonly T _alpha, _beta;
        private readonly T* _a, _b, _c;
        private readonly long _ars, _acs, _brs, _bcs, _rsc;

        // The split: a grid of _rowChunks x _colChunks items. Rows go in equal shares of the _mPanels A
        // micro-panels (whole panels, at most MC rows where that allows a multiple of the workers; shares differ
        // by one panel at most); columns in equal shares of the B micro-panels.
        private readonly int _tasks, _rowChunks, _colChunks;

        // The depth of every k block but the last: k cut into as few blocks of at most KC as possible, all of
        // nearly the same depth (k = 1100 with KC 512: 3 x 367, where 2 x 512 + 76 would give the last block a
        // seventh of the work for the same C update and A packing per tile). A function of k alone, so the bits
        // still do not depend on the threads.
        private readonly int _kcBlock;
        private readonly long _mPanels;
        private readonly Action<int> _compute;

        // Optional self-packing operands and C's column blocks (0: C is one block).
        private GemmOperand<T>? _aOp, _bOp;
        private int _cBlock;
        private long _cBlockStride;

        // The current (jc, pc) block and its shared packed B, one flag per micro-panel.
        // With _allK, one fork covers every k block: B is packed whole, block after block, and each item
        // walks the k blocks itself (_pc and _kc then stay unused).
        private int _jc, _nc, _pc, _kc, _nextItem;
        private readonly bool _allK;
        private long _panels;
        private T* _bPacked;
        private int* _flags;

        // With one row chunk (a short A, the items split the columns) every item needs all of A: it is packed once
        // for the whole call (all k blocks; the block at k offset pc starts at _aShared + pc * _mPadded, the panel of
        // row r at + r * kc). With at most MC rows besides, each B panel is used once, by one item, right after it
        // is packed: it goes into the item's own one-panel buffer, still in cache, not into the shared block.
        private T* _aShared, _aPrepacked;
        private long _mPadded;
        private bool _privateB;

        public Job(int m, int n, int k, T alpha, T* a, long ars, long acs, T* b, long brs, long bcs,
            T beta, T* c, long rsc, int tasks)
        {
            (_m, _n, _k, _alpha, _beta, _tasks) = (m, n, k, alpha, beta, tasks);
            _a = a; _b = b; _c = c;
            (_ars, _acs, _brs, _bcs, _rsc) = (ars, acs, brs, bcs, rsc);
            _compute = Compute;
            _kcBlock = KBlockDepth(k);

            // Prefer splitting M: workers then share packed B and each row of A is packed once. With
            // too few rows for that, split the columns instead (every item then packs all of A, which
            // is small in exactly that case).
            long mPanels = (m + K.MR - 1) / K.MR;
            long nPanels = (Math.Min(n, K.NC) + K.NR - 1) / K.NR;
            int items = tasks == 1 ? 1 : CpuGemm.ItemsPerWorker * tasks;
            bool splitM = CpuGemm.Split switch
            {
                GemmSplit.Rows => true,
                GemmSplit.Columns => false,
                _ => (mPanels >= items || mPanels >= nPanels) && !TinyA(mPanels, k, nPanels, items)
                    && !(Large(m, n, k) && ShortWideA(m, mPanels, k, nPanels, items)),
            };
            _mPanels = mPanels;
            // With several k blocks and a B small enough to pack whole (a deep product of narrow matrices, such as
            // a linear layer's weight gradient: k is the batch of tokens), one fork covers all of them: each item
            // runs its tiles through the k blocks in order. That is the same sequence of operations per element
            // as one fork per k block, without the k / KC synchronisations that otherwise cost more than the
            // arithmetic of such a product.
            int kBlocks = (k + _kcBlock - 1) / _kcBlock;
            _allK = tasks > 1 && kBlocks > 1 && (long)k * nPanels * K.NR * sizeof(T) <= WholeBBytes;
            _rowChunks = 1;
            if (splitM)
            {
                // Items are claimed dynamically, so equal items in a multiple of the workers keep them equally
                // busy to the end: a last item smaller than the others (as whole MC chunks leave) or one more
                // item than a multiple of the workers leaves a worker idle for up to an item's time.
                long chunks = Math.Max(Math.Min(RowItems(items, m, n, k, kBlocks), mPanels), (mPanels + K.MC / K.MR - 1) / (K.MC / K.MR));
                // With one fork over all k blocks every item streams the whole packed B (all of k): items of a few
                // panels would read it once per two or three panels of arithmetic. A pointwise convolution's weight
                // gradient (m 256, n 128, k 8192: 4 MiB of packed B) took 2.72-2.74 ms with 2 items of 11 panels against
                // 2.86-2.95 with 8 of 2-3 (min of 300 calls alternated in one process, 2 threads, loaded 2-vCPU Zen 4 VM,
                // load 8-10, 2026-12-08).
                if (_allK && Large(m, n, k)) chunks = Math.Min(chunks, Math.Max(1, mPanels / MinAllKRowPanels));
                long even = (chunks + tasks - 1) / tasks * tasks;
                _rowChunks = (int)(even <= mPanels ? even : chunks);
            }
            _colChunks = splitM ? 1 : (int)Math.Min(nPanels, items);
        }

        // An A that packs into a few dozen KiB in one k block (a patch embedding's or a thin pointwise convolution's
        // weight: 96 x 48 for the bench's conv2d_patch4) is better shared whole than split: with the columns split, A is
        // packed once for the call and stays in L1, and each B panel is packed into its worker's own buffer and used at
        // once by every A panel. Split by rows, every item streams the whole packed B block (768 KiB for conv2d_patch4)
        // that the other worker packed half of, through L2 or from the other core. conv2d_patch4's forward was bimodal
        // across processes that way: 28 pairs of processes alternating builds (bench ops, 2 threads, loaded 2-vCPU
        // Zen 4 VM, load 4.5-13, 2026-12-07), the row split's minimum was 0.70-0.92 ms in 10 of 28 and mostly 0.45-0.52
        // in the others, the column split's 0.79 in 1 of 28 and mostly 0.39-0.41 in the others. The same bits: the
        // split never changes an element's operations.
        private static bool TinyA(long mPanels, int k, long nPanels, int items) =>
            items > 1 && k <= K.KC && mPanels * K.MR * k * sizeof(T) <= TinyABytes && nPanels >= items;

        // An A of at most one MC row block (packed whole for the call into at most SharedABytes) in front of a B with at
        // least as many column panels as A has row panels (a pointwise convolution: 256 output channels by 8192 pixels
        // for the bench's conv2d_1x1). Split by rows, its 8 items would get 2-3 panels each, and every item would stream
        // the whole packed B block (2 MiB there) for that much arithmetic; split by columns, A is packed once and read
        // from L2, and each B panel is packed into its worker's own buffer and used at once by every A panel (the
        // GotoBLAS order for one MC block). conv2d_1x1's forward, rows against columns alternated in one process (min of
        // 200, 2 threads, loaded 2-vCPU Zen 4 VM, load 4-10, 2026-12-08): 2.81-3.40 ms against 2.62-2.74, the row split's
        // median in 3 of 6 processes at 3.5 (the mode of the quiet figures, 3.68-3.75), the column split's at 2.8-2.9.
        private static bool ShortWideA(int m, long mPanels, int k, long nPanels, int items) =>
            items > 1 && m <= K.MC && nPanels >= Math.Max(items, mPanels) && mPanels * K.MR * k * sizeof(T) <= SharedABytes;

        public void SetOperands(GemmOperand<T>? aOp, GemmOperand<T>? bOp, int cBlock, long cBlockStride)
        {
            (_aOp, _bOp, _cBlock, _cBlockStride) = (aOp, bOp, cBlock >= _n ? 0 : cBlock, cBlockStride);
        }

        // A packed beforehand for this kernel (PackWholeA): used as the shared A, never packed by the call.
        public void SetPackedA(T* aPacked) => _aPrepacked = aPacked;

        public void Execute()
        {
            long maxPanels = (Math.Min(_n, K.NC) + K.NR - 1) / K.NR;
            int kBlocks = (_k + _kcBlock - 1) / _kcBlock;
            if (Pipelined(kBlocks))
            {
                ExecutePipelined(maxPanels, kBlocks);
                return;
            }
            int flagBlocks = _allK ? kBlocks : 1;
            _privateB = _rowChunks == 1 && _m <= K.MC;
            _bPacked = _privateB ? null : (T*)GemmBuffer.PackedB.Get((_allK ? _k : Math.Min(_k, _kcBlock)) * maxPanels * K.NR * sizeof(T));
            _flags = (int*)GemmBuffer.PanelFlags.Get(flagBlocks * maxPanels * sizeof(int));

            _aShared = _aPrepacked;
            _mPadded = _mPanels * K.MR;
            if (_aShared == null && _rowChunks == 1 && (_colChunks > 1 || _n > K.NC) && _mPadded * _k * sizeof(T) <= SharedABytes)
            {
                T* shared = (T*)GemmBuffer.SharedA.Get(_mPadded * _k * sizeof(T));
                for (int pc = 0; pc < _k; pc += _kcBlock)
                    PackA(shared + pc * _mPadded, 0, _m, pc, Math.Min(_kcBlock, _k - pc));
                _aShared = shared;
            }

            for (int jc = 0; jc < _n; jc += K.NC)
            {
                _jc = jc;
                _nc = Math.Min(K.NC, _n - jc);
                _panels = (_nc + K.NR - 1) / K.NR;
                if (_allK)
                {
                    new Span<int>(_flags, (int)(flagBlocks * _panels)).Clear();
                    _nextItem = 0;
                    CpuParallel.ForEachTask(_tasks, _compute);
                    continue;
                }
                for (int pc = 0; pc < _k; pc += _kcBlock)
                {
                    _pc = pc;
                    _kc = Math.Min(_kcBlock, _k - pc);
                    new Span<int>(_flags, (int)_panels).Clear();
                    _nextItem = 0;
                    if (_tasks == 1) Compute(0);
                    else CpuParallel.ForEachTask(_tasks, _compute);
                }
            }
        }

        // One worker: claims items until none are left. Which thread computes a tile does not
        // change its arithmetic, so dynamic claiming keeps the result deterministic.
        private void Compute(int task)
        {
            int count = _rowChunks * _colChunks;
            int item;
            while ((item = Interlocked.Increment(ref _nextItem) - 1) < count)
                ComputeItem(item / _colChunks, item % _colChunks);
        }

        private void ComputeItem(int rc, int cc)
        {
            if (!_allK)
            {
                ComputeBlock(rc, cc, _pc, _kc, _bPacked, _flags);
                return;
            }
            for (int pc = 0; pc < _k; pc += _kcBlock)
            {
                long block = pc / _kcBlock;
                ComputeBlock(rc, cc, pc, Math.Min(_kcBlock, _k - pc), _bPacked + (long)pc * _panels * K.NR, _flags + block * _panels);
            }
        }

        // Item (rc, cc) for the k block [pc, pc + kc), whose packed B panels start at bBlock (one flag each at flags).
        private void ComputeBlock(int rc, int cc, int pc, int kc, T* bBlock, int* flags)
        {
            int mr = K.MR, nr = K.NR;
            int rowBegin = (int)(rc * _mPanels / _rowChunks) * mr;
            int rowEnd = (int)Math.Min(_m, (rc + 1) * _mPanels / _rowChunks * mr);
            long panelBegin = _panels * cc / _colChunks, span = _panels * (cc + 1) / _colChunks - panelBegin;
            // Items running at the same time have neighbouring indices; start them at panels span/T
            // apart so they pack different B panels instead of queueing on the same ones.
            long rotate = span * (rc % _tasks) / _tasks;

            // Per-thread scratch: the packed A block, one edge tile, then the kernel's scalars:
            // (alpha, beta) for full tiles and (1, 0) for edge tiles computed into `tile`.
            // Later k blocks accumulate onto what the first one wrote.
            long aElems = (long)K.MC * _kcBlock;
            T* aPacked = (T*)GemmBuffer.PackedA.Get((aElems + mr * nr + 4) * sizeof(T));
            T* tile = aPacked + aElems;
            T* scalars = tile + mr * nr;
            (scalars[0], scalars[1], scalars[2], scalars[3]) = (_alpha, pc == 0 ? _beta : T.One, T.One, T.Zero);

            T* bPrivate = _privateB ? (T*)GemmBuffer.PanelB.Get((long)_kcBlock * nr * sizeof(T)) : null;

            for (int ic = rowBegin; ic < rowEnd; ic += K.MC)
            {
                int mc = Math.Min(K.MC, rowEnd - ic);
                T* aBlock = aPacked;
                if (_aShared != null) aBlock = _aShared + pc * _mPadded + (long)ic * kc;
                else PackA(aPacked, ic, mc, pc, kc);

                for (long step = 0; step < span; step++)
                {
                    long jr = panelBegin + (step + rotate) % span;
                    T* bp;
                    if (_privateB)
                    {
                        PackB(bPrivate, pc, kc, jr);
                        bp = bPrivate;
                    }
                    else
                    {
                        EnsurePacked(flags + jr, bBlock, pc, kc, jr);
                        bp = bBlock + jr * nr * kc;
                    }
                    int ncur = (int)Math.Min(nr, _nc - jr * nr);
                    long j0 = _jc + jr * nr;
                    // Columns of this panel up to C's next block boundary: a panel across one goes through the tile.
                    int whole = _cBlock == 0 ? ncur : (int)Math.Min(ncur, _cBlock - j0 % _cBlock);
                    T* cCol = ColumnStart(j0) + ic * _rsc;
                    for (int ir = 0; ir < mc; ir += mr)
                    {
                        int mcur = Math.Min(mr, mc - ir);
                        T* ap = aBlock + (long)ir * kc;
                        T* cp = cCol + ir * _rsc;
                        if (mcur == mr && ncur == nr && whole == nr)
                        {
                            K.Run(kc, ap, bp, cp, _rsc, scalars);
                        }
                        else
                        {
                            EdgeTile(mcur, kc, ap, bp, tile, scalars + 2);
                            GemmSmall.UpdateEdge(tile, nr, cp, _rsc, mcur, whole, scalars[0], scalars[1], K.Fused);
                            for (int done = whole; done < ncur;)
                            {
                                int len = (int)Math.Min(ncur - done, _cBlock - (j0 + done) % _cBlock);
                                T* cq = ColumnStart(j0 + done) + (ic + ir) * _rsc;
                                GemmSmall.UpdateEdge(tile + done, nr, cq, _rsc, mcur, len, scalars[0], scalars[1], K.Fused);
                                done += len;
                            }
                        }
                    }
                }
            }
        }

        // An edge tile's product into `tile` (row stride NR, unscaled). An A panel with few live rows (M = 64 on the
        // 12-row AVX-512 tile leaves 4) goes through a kernel that computes only those rows: the same chains of
        // fused multiply-adds per element, so the same bits, without two thirds of the work being padding.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void EdgeTile(int rows, int kc, T* ap, T* bp, T* tile, T* oneZero)
        {
            if ((typeof(K) == typeof(Avx512KernelF32) || typeof(K) == typeof(Avx512KernelF64)) && rows <= 8)
            {
                if (rows <= 4) Avx512Tile<T>.RunRows4(kc, ap, bp, tile, K.NR);
                else Avx512Tile<T>.RunRows8(kc, ap, bp, tile, K.NR);
                return;
            }
            K.Run(kc, ap, bp, tile, K.NR, oneZero);
        }

        // Where column j of C's row 0 lives.
        private T* ColumnStart(long j) => _cBlock == 0 ? _c + j : _c + j / _cBlock * _cBlockStride + j % _cBlock;

        // Rows [ic, ic + mc) of A's k block [pc, pc + kc) into MR-row panels at dst (panel of row ic + ir at ir * kc).
        private void PackA(T* dst, int ic, int mc, int pc, int kc)
        {
            int mr = K.MR;
            if (_aOp is null)
                GemmPack.Pack(dst, _a + ic * _ars + pc * _acs, _ars, _acs, mc, kc, mr, 0, (mc + mr - 1) / mr);
            else
                for (int ir = 0; ir < mc; ir += mr)
                    _aOp.PackPanel(dst + (long)ir * kc, ic + ir, Math.Min(mr, mc - ir), mr, pc, kc);
        }

        // B micro-panel jr of the current column block's k block [pc, pc + kc), packed to dst.
        private void PackB(T* dst, int pc, int kc, long jr)
        {
            if (_bOp is null)
                GemmPack.Pack(dst - jr * K.NR * kc, _b + pc * _brs + _jc * _bcs, _bcs, _brs, _nc, kc, K.NR, jr, jr + 1);
            else
                _bOp.PackPanel(dst, _jc + jr * K.NR, (int)Math.Min(K.NR, _nc - jr * K.NR), K.NR, pc, kc);
        }

        // Makes B micro-panel jr of the k block [pc, pc + kc) available at bBlock: pack it if nobody has, wait
        // if someone is. Cannot deadlock: a panel is only claimed by a worker that packs it at once.
        private void EnsurePacked(int* flag, T* bBlock, int pc, int kc, long jr)
        {
            if (Volatile.Read(ref *flag) == Packed) return;
            if (Interlocked.CompareExchange(ref *flag, Packing, Empty) == Empty)
            {
                PackB(bBlock + jr * K.NR * kc, pc, kc, jr);
                Volatile.Write(ref *flag, Packed);
                return;
            }
            var spin = new SpinWait();
            while (Volatile.Read(ref *flag) != Packed) spin.SpinOnce(sleep1Threshold: -1);
        }
    }
}
