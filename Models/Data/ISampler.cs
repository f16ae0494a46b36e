namespace Engine.Models.Data;

/// <summary>
/// Which dataset examples a <see cref="DataLoader"/> visits in an epoch, in order (PyTorch's <c>Sampler</c>); the
/// loader's per-example randomness still comes from each example's dataset index, so the same example is
/// augmented the same way whichever process visits it.
/// </summary>
public interface ISampler
{
    /// <summary>Examples visited per epoch.</summary>
    int Count { get; }

    /// <summary>The dataset indices visited in epoch <paramref name="epoch"/>, in order (<see cref="Count"/> of them).</summary>
    int[] Indices(int epoch);
}
