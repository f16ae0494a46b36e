using System.Buffers;

namespace Engine.Models.Serialization.Pth;

/// <summary>
/// Turns a <see cref="TensorRef"/> (a window of a storage: offset, sizes, strides) into an engine tensor of its
/// own, converting the stored element type as the safetensors reader does (F16/BF16 to F32, integers to I64).
/// Views that share a storage each get a copy of the elements they cover.
/// </summary>
internal static class TensorMaterializer
{
    private const int ChunkElements = 1 << 18;

    /// <summary>The most elements a tensor may have beyond its storage's (through strides of 0).</summary>
    public const long MaxExpandedElements = 1L << 28;

    /// <summary>Checks <paramref name="t"/> against its storage's size; null when it fits, else what is wrong.</summary>
    public static string? Check(TensorRef t)
    {
        if (t.Offset < 0) return $"a negative storage offset ({t.Offset})";
        if (t.Size.Any(s => s < 0 || s > int.MaxValue)) return $"a size outside [0, {int.MaxValue}] ({Format(t.Size)})";
        if (t.Stride.Any(s => s < 0)) return $"a negative stride ({Format(t.Stride)})";
        try
        {
            long numel = 1, last = t.Offset;
            foreach (var s in t.Size) numel = checked(numel * s);
            // Strides of 0 let a few stored elements describe a huge tensor; every tensor here gets its own memory,
            // so a file may not ask for much more than it holds.
            if (numel > t.Storage.Numel && numel > MaxExpandedElements)
                return $"size {Format(t.Size)} with stride {Format(t.Stride)} would expand {t.Storage.Numel} stored elements to {numel}, more than this reader copies ({MaxExpandedElements})";
            if (numel == 0) return t.Offset <= t.Storage.Numel ? null : $"storage offset {t.Offset} beyond the storage's {t.Storage.Numel} elements";
            for (int d = 0; d < t.Size.Length; d++) last = checked(last + (t.Size[d] - 1) * t.Stride[d]);
            if (last >= t.Storage.Numel)
                return $"size {Format(t.Size)}, stride {Format(t.Stride)} and offset {t.Offset} reach element {last}, but the storage has {t.Storage.Numel}";
        }
        catch (OverflowException)
        {
            return $"size {Format(t.Size)} and stride {Format(t.Stride)} overflow";
        }
        return null;
    }

    /// <summary>
    /// Builds the tensor from <paramref name="storage"/>, the bytes of the root storage
    /// (<see cref="Check"/> must have passed). Returns the tensor, or throws with <paramref name="fail"/>'s message.
    /// </summary>
    public static unsafe Tensor Build(TensorRef t, ReadOnlyMemory<byte> storage, Func<string, Exception> fail)
    {
        var stored = t.Storage.Type.DType;
        int es = stored.SizeOf();
        var dtype = stored.EngineDType();
        int engineSize = dtype.SizeOf();
        var shape = t.Size.Select(s => (int)s).ToArray();
        var tensor = Tensor.Empty(shape, dtype);
        try
        {
            byte* dst = (byte*)((CpuStorage)tensor.Storage).Pointer;
            long numel = tensor.NumEl, start = t.Storage.ViewOffset + t.Offset;
            var src = storage.Span;
            if (IsContiguous(t))
            {
                for (long done = 0; done < numel; done += ChunkElements)
                {
                    int n = (int)Math.Min(ChunkElements, numel - done);
                    Decode(stored, src.Slice((int)((start + done) * es), n * es), new Span<byte>(dst + done * engineSize, n * engineSize), fail);
                }
                return tensor;
            }
            var buffer = ArrayPool<byte>.Shared.Rent(ChunkElements * es);
            try
            {
                var index = new long[shape.Length];
                long position = start;
                for (long done = 0; done < numel; done += ChunkElements)
                {
                    int n = (int)Math.Min(ChunkElements, numel - done);
                    for (int i = 0; i < n; i++)
                    {
                        src.Slice((int)(position * es), es).CopyTo(buffer.AsSpan(i * es, es));
                        // Advance the multi-index (last dimension fastest), moving position by the strides.
                        for (int d = shape.Length - 1; d >= 0; d--)
                        {
                            position += t.Stride[d];
                            if (++index[d] < shape[d]) break;
                            position -= t.Stride[d] * shape[d];
                            index[d] = 0;
                        }
                    }
                    Decode(stored, buffer.AsSpan(0, n * es), new Span<byte>(dst + done * engineSize, n * engineSize), fail);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    private static bool IsContiguous(TensorRef t)
    {
        long expected = 1;
        for (int d = t.Size.Length - 1; d >= 0; d--)
        {
            if (t.Size[d] != 1 && t.Stride[d] != expected) return false;
            expected *= t.Size[d];
        }
        return true;
    }

    private static void Decode(SafeTensorsDType stored, ReadOnlySpan<byte> src, Span<byte> dst, Func<string, Exception> fail)
    {
        var problem = ElementConversion.Decode(stored, src, dst);
        if (problem is not null) throw fail(problem);
    }

    private static string Format(long[] values) => "(" + string.Join(", ", values) + ")";
}
