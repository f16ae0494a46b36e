using Engine.Cpu;
using Engine.Randomness;
using Xunit;

namespace Engine.Tests.Cpu;

/// <summary>
/// The streamed fill of large broadcast copies (Engine/Cpu/StreamedFill.cs, taken by <c>Clone</c> and <c>CopyFrom</c>
/// of an expanded source of 8 MiB and more, such as the gradient a sum's input receives): the same values as the
/// ordinary fill at every length and misalignment, nothing written outside the range, and tensor copies around the
/// threshold (F32, F64, I64; contiguous, offset and strided destinations) equal to the elementwise reference.
/// </summary>
[Collection(Support.SerialCollection.Name)]
public unsafe class StreamedFillTests
{
    [Fact]
    public void WritesTheValueOnEveryElementOfTheRangeAndNothingElse()
    {
        Check(3.25f, -1f);
        Check(-7.5, 2.0);
        Check(long.MinValue + 3, 11L);
        Check((byte)1, (byte)0xAA);
    }

    private static void Check<T>(T value, T guard) where T : unmanaged, IEquatable<T>
    {
        const int Pad = 40;
        foreach (int n in Enumerable.Range(0, 70).Concat([127, 128, 129, 1000, 4099]))
        {
            for (int skew = 0; skew < 64 / sizeof(T) + 1; skew++)
            {
                var buffer = new T[n + 2 * Pad + 64];
                Array.Fill(buffer, guard);
                fixed (T* b = buffer)
                {
                    // Start at a chosen distance from a 64-byte boundary.
                    long aligned = ((nint)(b + Pad) + 63 & ~63) - (nint)b;
                    long start = aligned / sizeof(T) + skew;
                    StreamedFill.Fill(b + start, n, value);
                    System.Runtime.Intrinsics.X86.Sse.StoreFence();
                    for (long i = 0; i < buffer.Length; i++)
                    {
                        bool inside = i >= start && i < start + n;
                        if (!buffer[i].Equals(inside ? value : guard))
                            Assert.Fail($"{typeof(T).Name} fill of {n} at skew {skew}: element {i - start} is {buffer[i]}, expected {(inside ? value : guard)}");
                    }
                }
            }
        }
    }

    [Fact]
    public void TheThresholdIsEightMiB()
    {
        if (!StreamedFill.Supported) return;
        Assert.True(StreamedFill.Worth(8L << 20));
        Assert.False(StreamedFill.Worth((8L << 20) - 1));
    }

    /// <summary>Row-broadcast and column-broadcast sources cloned at sizes around 8 MiB give every element its row's (or column's) value.</summary>
    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    [InlineData(DType.I64)]
    public void BroadcastCopiesAroundTheThresholdHoldTheSourceValues(DType dtype)
    {
        using var scope = Tensor.Scope();
        int size = dtype.SizeOf();
        long at = StreamedFill.MinBytes / size;
        foreach (int length in new[] { 1000, 1024, 37 })
        {
            foreach (long total in new[] { at - length, at, at + length })
            {
                int rows = (int)(total / length);
                var column = (Tensor.Randn([rows, 1], DType.F64, Device.Cpu, new Generator((ulong)rows)) * 100).ToDType(dtype);
                var copy = column.Expand(rows, length).Clone();
                var want = column.ToArray<double>();
                var got = copy.ToArray<double>();
                for (int r = 0; r < rows; r++)
                    for (int i = 0; i < length; i++)
                        if (!(got[(long)r * length + i] == want[r])) Assert.Fail($"{dtype} [{rows},1] to [{rows},{length}]: ({r},{i}) is {got[(long)r * length + i]}, expected {want[r]}");
                var row = (Tensor.Randn([1, length], DType.F64, Device.Cpu, new Generator(7)) * 100).ToDType(dtype);
                var rowCopy = row.Expand(rows, length).Clone().ToArray<double>();
                var rowWant = row.ToArray<double>();
                for (long i = 0; i < rowCopy.Length; i++)
                    if (!(rowCopy[i] == rowWant[i % length])) Assert.Fail($"{dtype} [1,{length}] to [{rows},{length}]: element {i}");
            }
        }
    }

    /// <summary>CopyFrom into an offset view (rows that start off a 64-byte boundary) and into a transposed view of a large tensor.</summary>
    [Fact]
    public void CopiesIntoOffsetAndStridedViewsOfALargeTensor()
    {
        using var scope = Tensor.Scope();
        int rows = 2100, length = 1003; // 8.04 MiB of floats
        var target = Tensor.Full([rows, length], -1.0, DType.F32, Device.Cpu);
        var column = Tensor.Randn([rows, 1], DType.F32, Device.Cpu, new Generator(3));
        target.Narrow(1, 1, length - 1).CopyFrom(column);
        var got = target.ToArray<float>();
        var want = column.ToArray<float>();
        for (int r = 0; r < rows; r++)
        {
            Assert.Equal(-1f, got[(long)r * length]);
            for (int i = 1; i < length; i++) if (!(got[(long)r * length + i] == want[r])) Assert.Fail($"offset view: ({r},{i})");
        }
        var square = Tensor.Zeros([1500, 1500], DType.F32, Device.Cpu); // 8.6 MiB
        var values = Tensor.Randn([1500, 1], DType.F32, Device.Cpu, new Generator(5));
        square.Transpose(0, 1).CopyFrom(values);
        var s = square.ToArray<float>();
        var v = values.ToArray<float>();
        for (int r = 0; r < 1500; r++)
            for (int c = 0; c < 1500; c++)
                if (!(s[r * 1500 + c] == v[c])) Assert.Fail($"transposed view: ({r},{c})");
    }

    /// <summary>The gradient a large sum's input receives (the copy of dy broadcast to x's shape) holds dy in every column.</summary>
    [Fact]
    public void TheGradientOfALargeSumHoldsTheIncomingGradient()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Randn([2048, 1024], DType.F32, Device.Cpu, new Generator(9));
        x.RequiresGrad = true;
        var g = Tensor.Randn([2048], DType.F32, Device.Cpu, new Generator(10));
        x.Sum(1).Backward(g);
        var grad = x.Grad!.ToArray<float>();
        var want = g.ToArray<float>();
        for (int r = 0; r < 2048; r++)
            for (int i = 0; i < 1024; i++)
                if (!(grad[r * 1024 + i] == want[r])) Assert.Fail($"x.grad ({r},{i})");
        x.ZeroGrad();
    }
}
