// Runs the native tests of the cuBLAS/cuFFT emulations against the stand-in runtime; exit status 1 on
// any failure. Built and run by run.sh.
#include "check.h"

int main()
{
    test_numeric();
    test_blas();
    test_fft();
    std::printf("%d checks passed, %d failed\n", check::passed, check::failed);
    return check::failed == 0 ? 0 : 1;
}
