using Engine.Cpu;

namespace Engine.Models.Optim;

/// <summary>Helpers shared by the optimizers for the tensors they own and the memory their kernels touch.</summary>
internal static class OptimTensors
{
    /// <summary>Takes <paramref name="t"/> out of every open scope: optimizer and EMA state outlives the scopes of a training step.</summary>
    public static Tensor Owned(Tensor t)
    {
        TensorScope.Forget(t);
        return t;
    }

    /// <summary>A zero tensor shaped like <paramref name="like"/>, owned by the caller.</summary>
    public static Tensor OwnedZeros(Tensor like) => Owned(Tensor.ZerosLike(like));

    /// <summary>A copy of <paramref name="t"/>, owned by the caller.</summary>
    public static Tensor OwnedCopy(Tensor t)
    {
        var c = Tensor.Empty(t.Shape, t.DType, t.Device);
        c.CopyFrom(t);
        return Owned(c);
    }

    /// <summary>True when the fused CPU kernels can update <paramref name="t"/> in place.</summary>
    public static bool IsFusable(Tensor t) => t.Device == Device.Cpu && t.IsContiguous;

    /// <summary>Address of the first element of a CPU tensor.</summary>
    public static unsafe T* Ptr<T>(Tensor t) where T : unmanaged => CpuBackend.Ptr<T>(t);

    /// <summary>Records an in-place write done by a kernel, as the built-in in-place operations do.</summary>
    public static void MarkWritten(Tensor t) => t.Storage.BumpVersion();

    /// <summary>
    /// The gradient of <paramref name="param"/> as a contiguous CPU tensor for the fused kernels: the
    /// gradient itself, or a copy (<paramref name="copied"/>) the caller disposes.
    /// </summary>
    public static Tensor ContiguousGrad(Tensor param, out bool copied)
    {
        var g = param.Grad!;
        copied = !g.IsContiguous;
        return copied ? g.Clone() : g;
    }
}

/// <summary>Tensors made for one optimizer step (contiguous copies of gradients), disposed together after the launches that read them were queued: stream order keeps that safe.</summary>
internal sealed class DisposableList : IDisposable
{
    private readonly List<Tensor> _tensors = [];

    /// <summary>The gradient of <paramref name="param"/>, contiguous: itself, or a copy kept here.</summary>
    public Tensor ContiguousGrad(Tensor param)
    {
        var g = OptimTensors.ContiguousGrad(param, out bool copied);
        if (copied) _tensors.Add(OptimTensors.Owned(g));
        return g;
    }

    /// <summary>Keeps <paramref name="t"/> until disposal; returns it.</summary>
    public Tensor Keep(Tensor t)
    {
        _tensors.Add(OptimTensors.Owned(t));
        return t;
    }

    public void Dispose()
    {
        foreach (var t in _tensors) t.Dispose();
        _tensors.Clear();
    }
}
