namespace Engine.Ops;

/// <summary>
/// Views that the spectral operators hand to the backend's GEMM and FFT on any device: a tensor's storage
/// seen with another shape, strides and offset (a stride of 0 repeats a basis over a batch). Not recorded on
/// the tape; the caller disposes them.
/// </summary>
internal static class SpectralViews
{
    /// <summary>The storage of <paramref name="t"/> as (<paramref name="shape"/>, <paramref name="strides"/>) from element <paramref name="offset"/>.</summary>
    public static Tensor View(Tensor t, int[] shape, long[] strides, long offset) => new(t.Storage, new Layout(shape, strides, offset), addRef: true);

    /// <summary>Rows <paramref name="first"/> … <paramref name="first"/> + <paramref name="rows"/> − 1 of a contiguous tensor seen as a (rows, cols) matrix.</summary>
    public static Tensor Rows(Tensor t, long first, int rows, int cols) => View(t, [rows, cols], [cols, 1], t.Offset + first * cols);

    /// <summary>An n×n matrix stored row-major in <paramref name="t"/>, or its transpose, repeated over <paramref name="batch"/> (stride 0).</summary>
    public static Tensor Square(Tensor t, int n, bool transpose, params int[] batch)
    {
        int[] shape = [.. batch, n, n];
        var strides = new long[shape.Length];
        strides[^2] = transpose ? 1 : n;
        strides[^1] = transpose ? n : 1;
        return View(t, shape, strides, t.Offset);
    }
}
