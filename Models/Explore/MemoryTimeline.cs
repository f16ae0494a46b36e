using System.Globalization;
using System.Text;
using Engine.Diagnostics;

namespace Engine.Models.Explore;

/// <summary>
/// A profile's memory over time as data: one CSV row per event with the bytes in use (allocated), held in the
/// allocator's cache (cached) and the peak so far. The command line draws it (<c>engine explore profile</c>:
/// memory.png and memory.svg, by ScottPlot); the libraries draw nothing.
/// </summary>
public static class MemoryTimeline
{
    /// <summary>The events as CSV: one row each, times in milliseconds and memory in bytes.</summary>
    public static string ToCsv(IReadOnlyList<ProfileEvent> events)
    {
        var sb = new StringBuilder("index,phase,label,node,at_ms,gap_ms,kernel_ms,allocated,cached,peak,allocated_delta,saved,outputs\n");
        for (int i = 0; i < events.Count; i++)
        {
            var e = events[i];
            sb.Append(CultureInfo.InvariantCulture,
                $"{i},{e.Phase.ToString().ToLowerInvariant()},{e.Label},{e.NodeSequence},{e.AtMs:0.####},{e.GapMs:0.####},{e.KernelMs:0.####},{e.AllocatedBytes},{e.CachedBytes},{e.PeakBytes},{e.AllocatedDelta},{e.SavedBytes},{e.OutputBytes}\n");
        }
        return sb.ToString();
    }
}
