using System.Globalization;
using Engine.Backends;

namespace Engine.Models.Training;

/// <summary>
/// The training loss summed where the model runs, read back only when asked: a float64 pair on the device
/// (the sum since the last read, the sum since the epoch began) to which each step adds its loss without
/// waiting, and a device timer over the same window. <see cref="Read"/> is the one wait: the timer's event and
/// one copy of the pair. The sums go into the checkpoint, so a resumed run reads the same values as one that
/// never stopped.
/// </summary>
internal sealed class RunningLoss : IDisposable
{
    private readonly Device _device;
    private readonly Tensor _sums;
    private DeviceTimer _timer;
    private long _windowSteps, _windowImages, _epochSteps;

    /// <summary>Sums starting at zero (a new run or epoch) or at a checkpoint's values.</summary>
    public RunningLoss(Device device, Saved? saved = null)
    {
        _device = device;
        var s = saved ?? new Saved(0, 0, 0, 0);
        _sums = Tensor.Empty([2], DType.F64, device).DetachFromScope();
        using (var host = Tensor.FromArray([s.WindowSum, s.EpochSum])) _sums.CopyFrom(host);
        (_windowSteps, _epochSteps) = (s.WindowSteps, s.EpochSteps);
        _timer = Devices.StartTimer(device);
    }

    /// <summary>The sums and counts as a checkpoint keeps them.</summary>
    public sealed record Saved(double WindowSum, long WindowSteps, double EpochSum, long EpochSteps)
    {
        private static readonly string[] Keys = ["loss_window_sum", "loss_window_steps", "loss_epoch_sum", "loss_epoch_steps"];

        /// <summary>As checkpoint metadata (doubles round-trip exactly).</summary>
        public IEnumerable<KeyValuePair<string, string>> ToMetadata()
        {
            var inv = CultureInfo.InvariantCulture;
            string[] values = [WindowSum.ToString("R", inv), WindowSteps.ToString(inv), EpochSum.ToString("R", inv), EpochSteps.ToString(inv)];
            return Keys.Zip(values, KeyValuePair.Create);
        }

        /// <summary>From checkpoint metadata; null when the checkpoint has none (written before the sums were kept).</summary>
        public static Saved? FromMetadata(IReadOnlyDictionary<string, string> metadata)
        {
            if (!Keys.All(metadata.ContainsKey)) return null;
            var inv = CultureInfo.InvariantCulture;
            return new Saved(double.Parse(metadata[Keys[0]], inv), long.Parse(metadata[Keys[1]], inv),
                double.Parse(metadata[Keys[2]], inv), long.Parse(metadata[Keys[3]], inv));
        }
    }

    /// <summary>What one read gives.</summary>
    /// <param name="WindowMean">The mean loss of the steps since the previous read.</param>
    /// <param name="EpochMean">The mean loss of the epoch so far.</param>
    /// <param name="ImagesPerSecond">The images of the window over the device time it took.</param>
    public readonly record struct Reading(double WindowMean, double EpochMean, double ImagesPerSecond);

    /// <summary>Adds a step's loss (any floating dtype, on the device) and its images: queued, no wait.</summary>
    public void Add(Tensor loss, int images)
    {
        using var wide = loss.Detach().ToDType(DType.F64);
        _sums.AddInPlace(wide);                              // broadcast into both sums
        _windowSteps++;
        _epochSteps++;
        _windowImages += images;
    }

    /// <summary>Reads the sums (the wait), starts a new window, and returns the means and the speed.</summary>
    public Reading Read()
    {
        double ms = _timer.Stop();
        var sums = _sums.ToArray<double>();
        var reading = new Reading(sums[0] / Math.Max(1, _windowSteps), sums[1] / Math.Max(1, _epochSteps), _windowImages / Math.Max(ms / 1000, 1e-9));
        using (var window = _sums.Narrow(0, 0, 1)) window.ZeroInPlace();
        (_windowSteps, _windowImages) = (0, 0);
        _timer.Dispose();
        _timer = Devices.StartTimer(_device);
        return reading;
    }

    /// <summary>The sums as they stand, for a checkpoint (a read, without starting a new window).</summary>
    public Saved Snapshot()
    {
        var sums = _sums.ToArray<double>();
        return new Saved(sums[0], _windowSteps, sums[1], _epochSteps);
    }

    /// <summary>
    /// Starts an epoch's steps: the timer starts over (the evaluation and checkpoint before it are not training
    /// time), and unless the epoch is resumed midway its sum and count go back to zero.
    /// </summary>
    public void StartEpoch(bool resumedMidway)
    {
        if (!resumedMidway)
        {
            using (var epoch = _sums.Narrow(0, 1, 1)) epoch.ZeroInPlace();
            _epochSteps = 0;
        }
        _timer.Dispose();
        _timer = Devices.StartTimer(_device);
    }

    public void Dispose()
    {
        _timer.Dispose();
        _sums.Dispose();
    }
}
