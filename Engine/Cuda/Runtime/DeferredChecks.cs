namespace Engine.Cuda.Runtime;

/// <summary>
/// Checks of values that only the device holds (the class targets of a loss, say), made by the kernel that reads
/// them and reported at the host's next wait for the device, so that an operator need not read its operands to the
/// host on every call. A check holds a slot of two integers on the device: its kernel lowers the first to the
/// position of the first bad value (an integer atomicMin, exact in any order) and writes that value into the
/// second. Every read of device data to the host (<c>ToArray</c>, <c>Item</c>, printing, <c>ToDevice(Cpu)</c>) and
/// <c>Devices.Synchronize</c> then reads the slots of the checks the calling thread made, and throws the exception
/// of the first that failed, in the order they were made. So a bad target surfaces where the training loop next
/// reads a value (its loss, say), in the thread that made the bad call, with the CPU's message. PyTorch reports a bad
/// target on CUDA at the next synchronisation too, but as a device-side assert that leaves the context unusable;
/// here the device goes on working.
/// </summary>
public sealed class DeferredChecks
{
    /// <summary>Slots per page of the device table; pages are added as needed.</summary>
    public const int PageSlots = 256;

    /// <summary>When a thread has this many checks pending, its next check first reports them (one wait).</summary>
    public const int MostPendingPerThread = 1024;

    /// <summary>The value of a slot's first integer while its check has found nothing: above any position.</summary>
    public const long Clear = 1L << 62;

    private readonly CudaDevice _device;
    private readonly object _lock = new();
    private readonly List<Tensor> _pages = new();
    private readonly Stack<int> _free = new();
    private readonly List<DeferredCheck> _pending = new();

    internal DeferredChecks(CudaDevice device) => _device = device;

    /// <summary>Checks the calling thread made (armed or not) that have not been reported yet.</summary>
    public int Pending
    {
        get
        {
            int thread = Environment.CurrentManagedThreadId;
            lock (_lock) return _pending.Count(c => c.Thread == thread);
        }
    }

    /// <summary>
    /// A check with its slot, (<see cref="Clear"/>, any) on the device. Give <see cref="DeferredCheck.Slot"/> to the
    /// kernels, then call <see cref="DeferredCheck.Arm"/> once they are queued; dispose it when done.
    /// <paramref name="explain"/> makes the exception from the position and the value of the first bad one.
    /// </summary>
    public DeferredCheck Reserve(Func<long, long, Exception> explain)
    {
        ArgumentNullException.ThrowIfNull(explain);
        if (Pending >= MostPendingPerThread) Report();
        lock (_lock)
        {
            if (_free.Count == 0) AddPage();
            int slot = _free.Pop();
            var check = new DeferredCheck(this, slot, SlotView(slot), explain);
            _pending.Add(check);
            return check;
        }
    }

    /// <summary>A view of slot <paramref name="slot"/>: two I64 elements.</summary>
    private Tensor SlotView(int slot)
    {
        using var noGrad = Autograd.Tape.NoGrad();
        using var row = _pages[slot / PageSlots].Narrow(0, slot % PageSlots, 1);
        return row.Reshape(2);
    }

    /// <summary>Clears slot <paramref name="slot"/> on the stream, after whatever was queued before.</summary>
    private void ClearSlot(int slot)
    {
        using var view = SlotView(slot);
        view.Backend.Fill(view, Clear);
    }

    private void AddPage()
    {
        using var noGrad = Autograd.Tape.NoGrad();
        _pages.Add(Tensor.Full([PageSlots, 2], Clear, DType.I64, _device.Device).DetachFromScope());
        for (int i = PageSlots - 1; i >= 0; i--) _free.Push((_pages.Count - 1) * PageSlots + i);
    }

    /// <summary>A check whose kernels were never queued: its slot is cleared (in stream order, in case one was) and freed.</summary>
    internal void Abandon(DeferredCheck check)
    {
        lock (_lock)
        {
            if (!_pending.Remove(check)) return;
            ClearSlot(check.Index);
            _free.Push(check.Index);
        }
    }

    /// <summary>
    /// Reads the slots of the calling thread's armed checks (the read waits for the kernels that wrote them),
    /// clears and frees them, and throws the first failure. Called after a host wait that did not read the slots
    /// itself (a synchronisation); a no-op when the thread has none.
    /// </summary>
    internal void Report()
    {
        if (TakeArmed() is not { } taken) return;
        var pages = new Dictionary<int, long[]>();
        try
        {
            // The read's own wait finds nothing of this thread armed: the checks were taken off the list above.
            using (Autograd.Tape.NoGrad())
                foreach (int page in taken.Pages)
                    pages[page] = Page(page).ToArray<long>();
        }
        catch
        {
            Return(taken);
            throw;
        }
        Settle(taken, pages);
    }

    /// <summary>Bytes of one page of slots on the device.</summary>
    internal const int PageBytes = PageSlots * 2 * sizeof(long);

    /// <summary>Armed checks taken off the pending list to be settled, and the pages that hold their slots.</summary>
    internal sealed record Taken(DeferredCheck[] Checks, int[] Pages);

    /// <summary>
    /// Takes the calling thread's armed checks off the pending list, so that a read of device data can copy their
    /// pages in the same wait as its own data and then <see cref="Settle"/> them; null when the thread has none.
    /// </summary>
    internal Taken? TakeArmed()
    {
        int thread = Environment.CurrentManagedThreadId;
        lock (_lock)
        {
            var mine = _pending.Where(c => c.Thread == thread && c.Armed).ToArray();
            if (mine.Length == 0) return null;
            foreach (var c in mine) _pending.Remove(c);
            return new Taken(mine, mine.Select(c => c.Index / PageSlots).Distinct().ToArray());
        }
    }

    /// <summary>Puts taken checks back (the read of their pages failed), so that the next wait reports them.</summary>
    internal void Return(Taken taken)
    {
        lock (_lock) _pending.InsertRange(0, taken.Checks);
    }

    /// <summary>Page <paramref name="page"/> of slots: a [<see cref="PageSlots"/>, 2] I64 tensor on the device.</summary>
    internal Tensor Page(int page)
    {
        lock (_lock) return _pages[page];
    }

    /// <summary>
    /// Settles taken checks from their pages as read after the kernels ran (<paramref name="pages"/> by page
    /// index): a failed one's slot is cleared, all are freed, and the first failure, in the order the checks were
    /// made, is thrown.
    /// </summary>
    internal void Settle(Taken taken, IReadOnlyDictionary<int, long[]> pages)
    {
        lock (_lock)
        {
            Exception? first = null;
            foreach (var c in taken.Checks)
            {
                var values = pages[c.Index / PageSlots];
                int at = 2 * (c.Index % PageSlots);
                if (values[at] != Clear)
                {
                    first ??= c.Explain(values[at], values[at + 1]);
                    ClearSlot(c.Index);
                }
                _free.Push(c.Index);
            }
            if (first is not null) throw first;
        }
    }
}

/// <summary>
/// One check of <see cref="DeferredChecks"/>: its slot on the device, armed once the kernels that fill it are queued.
/// Disposing an armed check keeps it pending until the thread's next wait; disposing one never armed frees its slot.
/// </summary>
public sealed class DeferredCheck : IDisposable
{
    private readonly DeferredChecks _owner;

    internal DeferredCheck(DeferredChecks owner, int index, Tensor slot, Func<long, long, Exception> explain)
    {
        _owner = owner;
        Index = index;
        Slot = slot;
        Explain = explain;
        Thread = Environment.CurrentManagedThreadId;
    }

    /// <summary>The slot: an I64 tensor of two elements on the device, for the kernels.</summary>
    public Tensor Slot { get; }

    internal int Index { get; }
    internal int Thread { get; }
    internal Func<long, long, Exception> Explain { get; }
    internal bool Armed { get; private set; }

    /// <summary>Marks the check as made: the kernels that fill its slot are queued, and the thread's next wait reports it.</summary>
    public void Arm() => Armed = true;

    /// <summary>Releases the view of the slot (the check stays pending if armed); a check never armed also gives its slot back.</summary>
    public void Dispose()
    {
        if (!Armed) _owner.Abandon(this);
        Slot.Dispose();
    }
}
