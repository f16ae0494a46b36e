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
    /// <see cref="WinogradMinChannels"/> input and output channels and 64 output tiles of 2x2) may run through Winograd's minimal filtering
    /// algorithm F(2x2, 3x3) on the CPU, for the forward pass and the input gradient. Default true. Process-wide.
    /// </summary>
    /// <remarks>
    /// Winograd multiplies 16 values per 2x2 output tile and channel pair instead of 36, so the products take 4/9
    /// of the direct convolution's multiply-adds; the price is a different rounding: the input transform adds and
    /// subtracts four inputs twice over, the weight transform halves sums of three (formed in float64, rounded once)
    /// and the output transform adds nine products. Measured against float64, the error stays below about 4e-7 times
    /// the sum of the absolute products Σ|x·w| (the direct path's: about 3e-7); tests allow 2e-5. Turn it off for the
    /// direct path's results (the bits of the column-matrix GEMM); float64 never takes it.
    /// </remarks>
    public static bool AllowWinograd
    {
        get => s_allowWinograd;
        set => s_allowWinograd = value;
    }

    /// <summary>
    /// The fewest input and output channels for which the Winograd path is taken: below it the transforms cost
    /// more than the multiply-adds they save (measured: 8 input channels into 32 outputs ran at 1.45 of the direct
    /// path's time). Below 24 input channels it is taken only when there are no more output channels than input ones.
    /// </summary>
    public const int WinogradMinChannels = 16;
}
