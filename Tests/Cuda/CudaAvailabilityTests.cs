using System.Diagnostics;
using Engine.Cuda;
using Engine.Cuda.Native;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.Gpu;

// Inside namespace Engine.*, a bare 'Cuda' is the namespace Engine.Cuda; the alias names the class.
using Cuda = Engine.Cuda.Cuda;

public sealed class CudaAvailabilityTests
{
    [NoCudaFact]
    public void Without_a_driver_is_available_answers_false_quickly_and_says_why()
    {
        var clock = Stopwatch.StartNew();
        Assert.False(Cuda.IsAvailable);
        Assert.Equal(0, Cuda.DeviceCount);
        Assert.True(clock.ElapsedMilliseconds < 2000, $"took {clock.ElapsedMilliseconds} ms");
        Assert.Contains("libcuda.so.1", Cuda.UnavailableReason);
        Assert.Contains("does not exist", Assert.Throws<ArgumentOutOfRangeException>(() => Cuda.Device(0)).Message);
    }

    [NoCudaFact]
    public void A_binding_called_without_the_library_throws_the_resolvers_message()
    {
        var e = Assert.ThrowsAny<Exception>(() => Driver.Init());
        var notFound = e as CudaLibraryNotFoundException ?? e.InnerException as CudaLibraryNotFoundException;
        Assert.NotNull(notFound);
        Assert.Contains("libcuda.so.1", notFound!.Message);
    }

    [Fact]
    public void Error_names_follow_each_librarys_spelling()
    {
        Assert.Equal("CUDA_ERROR_OUT_OF_MEMORY", ErrorNames.Driver(2));
        Assert.Equal("CUDA_ERROR_UNSUPPORTED_PTX_VERSION", ErrorNames.Driver(222));
        Assert.Equal("CUBLAS_STATUS_ARCH_MISMATCH", ErrorNames.CuBlas(8));
        Assert.Equal("CUFFT_INVALID_SIZE", ErrorNames.CuFft(8));
        Assert.Equal("NVRTC_ERROR_COMPILATION", ErrorNames.Nvrtc(6));
        Assert.Equal("CUFFT_UNKNOWN_CODE_99", ErrorNames.CuFft(99));
        var e = new CudaException("cublas", "cublasSgemm_v2", 7, ErrorNames.CuBlas(7));
        Assert.Equal("cublasSgemm_v2 failed: CUBLAS_STATUS_INVALID_VALUE (7)", e.Message);
    }
}
