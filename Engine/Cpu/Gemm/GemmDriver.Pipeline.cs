using System.Numerics;

namespace Engine.Cpu;

/// <summary>
/// The k blocks of a row-split product in one fork instead of one fork each (<see cref="CpuGemm.PipelineKBlocks"/>).
/// </summary>
/// <remarks>
/// <para>
/// With one fork per k block, each block ends in a join: the worker that finishes its last item first idles until
/// the other finishes (up to an item's time, per block), and the next block's packed B is only started after it.
/// Here the items of all k blocks form one queue, block after block, claimed dynamically by the same workers: a
/// worker that runs out of items in block p goes on with block p + 1 while the other finishes block p.
/// </para>
/// <para>
/// Two rules keep it correct: an item (p, r) starts once row chunk r is through block p - 1 (its C tiles take
/// the k blocks in order, so every element sees the same operations as with one fork per block: the same bits,
/// whatever the thread count), and packed B lives in a ring of two blocks, so block p packs into the buffer of
/// block p - 2 only once every item of block p - 2 is done. Every wait is for an item claimed earlier, which is
/// being computed by another worker (or was, by this one), so no wait can close a cycle; one thread alone never
/// waits.
/// </para>
/// </remarks>
internal static unsafe partial class GemmDriver<T, K>
    where T : unmanaged, IFloatingPointIeee754<T>
    where K : struct, IGemmKernel<T>
{
    private sealed partial class Job
    {
        private int _kBlocks;
        private long _bBlockElems;
        private int* _rowsDone;   // per row chunk: how many k blocks of it are in C
        private int* _blockDone;  // per k block: how many of its row chunks are done
        private Action<int>? _pipelineCompute;

        // The pipeline applies where there is something to pipeline: several workers, several k blocks each forked
        // on its own (not the all-k path), items that split the rows and share one packed B per block; and from the
        // size it was measured to win at (CpuGemm.PipelineMinWork).
        private bool Pipelined(int kBlocks) =>
            CpuGemm.PipelineKBlocks && _tasks > 1 && !_allK && kBlocks > 1 && _colChunks == 1 && _rowChunks > 1
            && (double)_m * _n * _k >= CpuGemm.PipelineMinWork;

        private void ExecutePipelined(long maxPanels, int kBlocks)
        {
            _kBlocks = kBlocks;
            _bBlockElems = _kcBlock * maxPanels * K.NR;
            _bPacked = (T*)GemmBuffer.PackedB.Get(2 * _bBlockElems * sizeof(T));
            long flagCount = kBlocks * maxPanels + _rowChunks + kBlocks;
            _flags = (int*)GemmBuffer.PanelFlags.Get(flagCount * sizeof(int));
            _privateB = false;
            _aShared = _aPrepacked;
            _mPadded = _mPanels * K.MR;
            _pipelineCompute ??= ComputePipelined;

            for (int jc = 0; jc < _n; jc += K.NC)
            {
                _jc = jc;
                _nc = Math.Min(K.NC, _n - jc);
                _panels = (_nc + K.NR - 1) / K.NR;
                // Panel flags of every k block, then the two progress counters.
                _rowsDone = _flags + kBlocks * _panels;
                _blockDone = _rowsDone + _rowChunks;
                new Span<int>(_flags, (int)(kBlocks * _panels + _rowChunks + kBlocks)).Clear();
                _nextItem = 0;
                CpuParallel.ForEachTask(_tasks, _pipelineCompute);
            }
        }

        // One worker: claims (k block, row chunk) items in order until none are left.
        private void ComputePipelined(int task)
        {
            int count = _kBlocks * _rowChunks;
            int item;
            while ((item = Interlocked.Increment(ref _nextItem) - 1) < count)
            {
                int block = item / _rowChunks, rc = item % _rowChunks;
                WaitAtLeast(ref _rowsDone[rc], block);
                if (block >= 2) WaitAtLeast(ref _blockDone[block - 2], _rowChunks);
                int pc = block * _kcBlock;
                ComputeBlock(rc, 0, pc, Math.Min(_kcBlock, _k - pc), _bPacked + (block & 1) * _bBlockElems, _flags + block * _panels);
                Volatile.Write(ref _rowsDone[rc], block + 1);
                Interlocked.Increment(ref _blockDone[block]);
            }
        }

        private static void WaitAtLeast(ref int counter, int value)
        {
            if (Volatile.Read(ref counter) >= value) return;
            var spin = new SpinWait();
            while (Volatile.Read(ref counter) < value) spin.SpinOnce(sleep1Threshold: -1);
        }
    }
}
