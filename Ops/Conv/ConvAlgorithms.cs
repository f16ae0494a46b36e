namespace Engine.Ops;

/// <summary>
/// Switches for the algorithms the CPU convolutions may choose from, as PyTorch's <c>torch.backends</c> flags
/// (<c>torch.backends.mkldnn.enabled</c>, <c>torch.backends.cudnn.allow_tf32</c>) switch its backends.
/// </summary>
public static class ConvAlgorithms
{
    private static volatile bool s_allowWinograd = true;

    /// <summary>
    /// Whether float32 3x3 convolutions (stride 1, dilation 1, one group, at least
    /// <see cref="WinogradMinChannels"/> input and output channels) may run through Winograd's minimal filtering
    /// algorithm F(2x2, 3x3) on the CPU, for the forward pass and the input gradient. Default true. Process-wide.
    /// </summary>
    /// <remarks>
    /// Winograd multiplies 16 values per 2x2 output tile and channel pair instead of 36, so the products take 4/9
    /// of the direct convolution's multiply-adds; the price is a different rounding: the input and output
    /// transforms add and subtract up to nine terms and the weight transform halves sums of three, so float32
    /// results differ from the direct convolution's by a few units in the last place of the largest terms that
    /// enter a sum (measured: at most about 3e-6 times the sum of the absolute products, against about 1e-6 for the
    /// direct path), never by more. Turn it off for results that match the direct path (the column-matrix GEMM)
    /// bit for bit; float64 never takes it.
    /// </remarks>
    public static bool AllowWinograd
    {
        get => s_allowWinograd;
        set => s_allowWinograd = value;
    }

    /// <summary>
    /// The fewest input and output channels for which the Winograd path is taken: below it the transforms cost
    /// more than the multiply-adds they save.
    /// </summary>
    public const int WinogradMinChannels = 16;
}
