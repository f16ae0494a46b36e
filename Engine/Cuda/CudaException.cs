namespace Engine.Cuda;

/// <summary>
/// A CUDA library call failed. The message names the function and the library's error name
/// (for example <c>cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (2)</c>).
/// </summary>
public class CudaException : Exception
{
    /// <summary>Creates the exception for <paramref name="function"/> returning <paramref name="code"/>.</summary>
    public CudaException(string library, string function, int code, string errorName, string? detail = null)
        : base($"{function} failed: {errorName} ({code}){(string.IsNullOrEmpty(detail) ? "" : ": " + detail)}")
    {
        Library = library;
        Function = function;
        Code = code;
        ErrorName = errorName;
    }

    /// <summary>Creates an exception with a message of its own (library resolution, allocator limits).</summary>
    public CudaException(string message) : base(message)
    {
        Library = Function = ErrorName = "";
    }

    /// <summary>The library that failed: driver, cublas, cufft or nvrtc.</summary>
    public string Library { get; }

    /// <summary>The exported function that failed.</summary>
    public string Function { get; }

    /// <summary>The raw status code the function returned.</summary>
    public int Code { get; }

    /// <summary>The status code's name, as the library spells it.</summary>
    public string ErrorName { get; }
}

/// <summary>No candidate file of a CUDA library could be loaded; the message lists each one tried.</summary>
public sealed class CudaLibraryNotFoundException : CudaException
{
    /// <summary>Creates the exception for <paramref name="library"/> after trying <paramref name="tried"/>.</summary>
    public CudaLibraryNotFoundException(string library, IReadOnlyList<string> tried, string hint)
        : base($"Could not load the CUDA library '{library}'. Tried, in order:\n  " + string.Join("\n  ", tried) + "\n" + hint)
    {
        Tried = tried;
    }

    /// <summary>Every candidate that was tried, in order.</summary>
    public IReadOnlyList<string> Tried { get; }
}
