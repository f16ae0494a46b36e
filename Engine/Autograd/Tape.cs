using System.Diagnostics;

namespace Engine.Autograd;

/// <summary>
/// The reverse-mode tape. Operations record a <see cref="Node"/> per call while any input requires a
/// gradient and recording is on for the current thread; <see cref="Backward"/> walks the nodes from a
/// result back to the leaves.
/// </summary>
public static class Tape
{
    [ThreadStatic] private static int _noGradDepth;
    [ThreadStatic] private static long _sequence;

    /// <summary>True when operations on this thread are being recorded.</summary>
    public static bool IsRecording => _noGradDepth == 0;

    /// <summary>Turns recording off on this thread until the returned scope is disposed (PyTorch's <c>torch.no_grad()</c>).</summary>
    public static IDisposable NoGrad() => new NoGradScope();

    private sealed class NoGradScope : IDisposable
    {
        private bool _disposed;
        public NoGradScope() => _noGradDepth++;
        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            _noGradDepth--;
        }
    }

    /// <summary>True when an operation on these inputs must be recorded.</summary>
    public static bool ShouldRecord(params ReadOnlySpan<Tensor?> inputs)
    {
        if (_noGradDepth != 0) return false;
        foreach (var t in inputs)
            if (t is { RequiresGrad: true }) return true;
        return false;
    }

    /// <summary>Saves a tensor for the backward pass of the node about to be recorded.</summary>
    public static SavedTensor Save(Tensor t) => new(t);

    /// <summary>
    /// Appends one entry to the tape: links every output to a new node whose backward maps output
    /// gradients to input gradients. This is the public path for custom operators too.
    /// </summary>
    /// <param name="op">Name of the operation.</param>
    /// <param name="inputs">The operation's tensor inputs, in the order the backward returns their gradients.</param>
    /// <param name="outputs">The tensors the operation produced.</param>
    /// <param name="backward">Computes input gradients from output gradients; runs with recording off.</param>
    /// <param name="saved">Tensors the backward reads, saved with <see cref="Save"/>; freed once it has run.</param>
    /// <param name="forwardStartTimestamp">A <see cref="Stopwatch.GetTimestamp"/> taken before the forward ran, to record its time; 0 to skip.</param>
    public static Node Record(string op, Tensor?[] inputs, Tensor[] outputs, BackwardFunction backward, SavedTensor[]? saved = null, long forwardStartTimestamp = 0)
    {
        var edges = new Edge?[inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            var t = inputs[i];
            if (t is null || !t.RequiresGrad) continue;
            edges[i] = t.GradFn is { } fn ? new Edge(fn, t.OutputIndex, null) : new Edge(null, 0, t);
        }
        double ms = forwardStartTimestamp == 0 ? 0 : Stopwatch.GetElapsedTime(forwardStartTimestamp).TotalMilliseconds;
        var node = new Node(op, ++_sequence, edges,
            inputs.Select(t => t?.Shape ?? []).ToArray(), outputs.Select(t => t.Shape).ToArray(),
            outputs.Length > 0 ? outputs[0].DType : DType.F32, outputs.Length > 0 ? outputs[0].Device : Device.Cpu,
            backward, saved ?? [], ms);
        for (int i = 0; i < outputs.Length; i++)
        {
            outputs[i].GradFn = node;
            outputs[i].OutputIndex = i;
            outputs[i].MarkRequiresGrad();
        }
        Diagnostics.TapeListeners.Current?.NodeRecorded(node);
        return node;
    }

    /// <summary>
    /// The nodes that lead to <paramref name="root"/>, in the order the forward pass created them
    /// (the tape of that result). Found iteratively, never by recursion, so deep graphs are fine.
    /// </summary>
    public static IReadOnlyList<Node> NodesOf(Tensor root)
    {
        var seen = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<Node>();
        if (root.GradFn is { } start) { stack.Push(start); seen.Add(start); }
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            foreach (var e in n.Inputs)
                if (e is { Node: { } child } && seen.Add(child)) stack.Push(child);
        }
        return seen.OrderBy(n => n.Sequence).ToList();
    }

    /// <summary>
    /// Runs the backward pass from <paramref name="root"/>. See <see cref="Tensor.Backward"/>.
    /// </summary>
    internal static void Backward(Tensor root, Tensor? gradient, bool retainGraph)
    {
        root.ThrowIfDisposed("backward");
        if (!root.RequiresGrad)
            throw new InvalidOperationException("Backward: element 0 of tensors does not require grad and does not have a grad_fn.");
        if (gradient is null)
        {
            if (root.NumEl != 1)
                throw new InvalidOperationException($"Backward: grad can be implicitly created only for scalar outputs, but the tensor has shape {Layout.Format(root.Layout.Shape)}; pass a gradient of that shape.");
        }
        else if (!gradient.Layout.Shape.AsSpan().SequenceEqual(root.Layout.Shape) || gradient.DType != root.DType || gradient.Device != root.Device)
        {
            throw new ArgumentException($"Backward: gradient has shape {Layout.Format(gradient.Layout.Shape)} ({gradient.DType.TorchName()}, {gradient.Device}) but the tensor has shape {Layout.Format(root.Layout.Shape)} ({root.DType.TorchName()}, {root.Device}).");
        }

        using var scope = Tensor.Scope();
        using var noGrad = NoGrad();
        var seed = gradient ?? Tensor.OnesLike(root);
        if (root.GradFn is null)
        {
            AccumulateLeaf(root, seed, takeOver: false);
            RunLeafHooks(root);
            return;
        }

        var nodes = NodesOf(root);
        var grads = new Dictionary<Node, Tensor?[]>(ReferenceEqualityComparer.Instance);
        // A backward may pass a gradient on unchanged (add returns g for both inputs), so one tensor can
        // wait in several slots; it is freed as soon as no slot holds it any more.
        var holders = new Dictionary<Tensor, int>(ReferenceEqualityComparer.Instance);
        void Hold(Tensor t) => holders[t] = holders.GetValueOrDefault(t) + 1;
        void Drop(Tensor t)
        {
            int left = holders.GetValueOrDefault(t) - 1;
            if (left > 0) { holders[t] = left; return; }
            holders.Remove(t);
            if (!ReferenceEquals(t, seed)) t.Dispose();
        }

        // Leaves with post-accumulate hooks: how many edges may still add to each; at zero its gradient is complete.
        var pendingLeaves = CountHookedLeafEdges(nodes);
        void LeafEdgeDone(Node node)
        {
            if (pendingLeaves is null) return;
            foreach (var e in node.Inputs)
            {
                if (e is not { Leaf: { } leaf } || !pendingLeaves.TryGetValue(leaf, out int left)) continue;
                if (left > 1) { pendingLeaves[leaf] = left - 1; continue; }
                pendingLeaves.Remove(leaf);
                if (leaf.Grad is not null) RunLeafHooks(leaf);
            }
        }

        grads[root.GradFn] = new Tensor?[root.GradFn.OutputShapes.Count];
        grads[root.GradFn][root.OutputIndex] = seed;
        Hold(seed);

        for (int i = nodes.Count - 1; i >= 0; i--)
        {
            var node = nodes[i];
            if (!grads.Remove(node, out var outGrads)) { LeafEdgeDone(node); continue; } // nothing flowed into this node
            var filled = new Tensor[outGrads.Length];
            for (int k = 0; k < outGrads.Length; k++)
            {
                filled[k] = outGrads[k] ?? Tensor.Zeros(node.OutputShapes[k], node.DType, node.Device);
                if (outGrads[k] is null) Hold(filled[k]);
            }

            long t0 = Stopwatch.GetTimestamp();
            var inGrads = node.RunBackward(filled);
            node.BackwardMilliseconds += Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            if (inGrads.Length != node.Inputs.Count)
                throw new InvalidOperationException($"Backward: the backward of '{node.Op}' returned {inGrads.Length} gradients for {node.Inputs.Count} inputs.");

            for (int k = 0; k < inGrads.Length; k++)
            {
                var g = inGrads[k];
                if (g is null || node.Inputs[k] is not { } edge) continue;
                var expected = node.InputShapes[k];
                if (!g.Layout.Shape.AsSpan().SequenceEqual(expected))
                    throw new InvalidOperationException($"Backward: the backward of '{node.Op}' returned a gradient of shape {Layout.Format(g.Layout.Shape)} for input {k} of shape {Layout.Format(expected)}.");
                if (edge.Node is { } producer)
                {
                    if (!grads.TryGetValue(producer, out var slot))
                        grads[producer] = slot = new Tensor?[producer.OutputShapes.Count];
                    if (slot[edge.OutputIndex] is { } previous)
                    {
                        var sum = previous.Add(g);
                        Hold(sum);
                        Drop(previous);
                        slot[edge.OutputIndex] = sum;
                    }
                    else
                    {
                        Hold(g);
                        slot[edge.OutputIndex] = g;
                    }
                }
                else
                {
                    AccumulateLeaf(edge.Leaf!, g, CanTakeOver(g, inGrads, holders));
                }
            }
            foreach (var g in filled) Drop(g);
            LeafEdgeDone(node);
            Diagnostics.TapeListeners.Current?.BackwardRan(node);
            if (!retainGraph) node.Release();
        }
    }

    private static Dictionary<Tensor, int>? CountHookedLeafEdges(IReadOnlyList<Node> nodes)
    {
        Dictionary<Tensor, int>? counts = null;
        foreach (var node in nodes)
            foreach (var e in node.Inputs)
                if (e is { Leaf: { PostAccumulateGradHooks.Count: > 0 } leaf })
                {
                    counts ??= new Dictionary<Tensor, int>(ReferenceEqualityComparer.Instance);
                    counts[leaf] = counts.GetValueOrDefault(leaf) + 1;
                }
        return counts;
    }

    private static void RunLeafHooks(Tensor leaf)
    {
        if (leaf.PostAccumulateGradHooks is not { Count: > 0 } hooks) return;
        foreach (var hook in hooks.ToArray()) hook(leaf);
    }

    /// <summary>
    /// True when nothing but this edge can see <paramref name="g"/>: a dense tensor the backward just made,
    /// whose storage no other handle shares (no saved tensor, view or other gradient), held in no pending
    /// slot, and returned for one input only. Such a gradient can become the leaf's without a copy.
    /// </summary>
    private static bool CanTakeOver(Tensor g, Tensor?[] inGrads, Dictionary<Tensor, int> holders) =>
        g.GradFn is null && g.IsContiguous && g.Offset == 0 && g.Storage.Length == g.NumEl && g.Storage.RefCount == 1
        && !holders.ContainsKey(g) && inGrads.Count(x => ReferenceEquals(x, g)) == 1;

    private static void AccumulateLeaf(Tensor leaf, Tensor g, bool takeOver)
    {
        // Otherwise the leaf gets a copy of its own: g may share storage with saved tensors or other gradients.
        if (leaf.Grad is null) leaf.Grad = takeOver ? g : g.Clone();
        else leaf.Grad.AddInPlace(g);
    }
}
