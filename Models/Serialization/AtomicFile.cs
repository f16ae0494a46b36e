namespace Engine.Models.Serialization;

/// <summary>
/// Replaces a file all at once: the content goes to a temporary file in the same directory, is flushed
/// to the disk, and the temporary file is renamed over the target (an atomic rename on one file
/// system). A crash or an exception while writing leaves the previous file as it was, and the
/// temporary file is removed.
/// </summary>
public static class AtomicFile
{
    /// <summary>Suffix of the temporary files (<c>target.RANDOM.tmp</c>).</summary>
    public const string TempSuffix = ".tmp";

    /// <summary>Writes <paramref name="path"/> with <paramref name="write"/>, atomically.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full) ?? throw new ArgumentException($"AtomicFile: '{path}' has no directory.", nameof(path));
        var temp = Path.Combine(directory, $"{Path.GetFileName(full)}.{Guid.NewGuid():N}{TempSuffix}");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                write(stream);
                // Flush(true) reaches the disk (fsync), so the rename never publishes a file whose data is still in flight.
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // The original error matters more than a temporary file we could not remove.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
