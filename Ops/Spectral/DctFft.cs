namespace Engine.Ops;

/// <summary>The FFT path of the 2-D DCT; absent until the engine has a CPU FFT.</summary>
internal static unsafe class DctFft
{
    public static bool Available => false;

    public static void Transform<T>(T* x, T* y, long batch, int h, int w, bool inverse) where T : unmanaged =>
        throw new NotSupportedException("dct2: the engine has no CPU FFT in this build.");
}
