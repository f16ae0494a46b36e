namespace Engine.Cpu;

// TEMPORARY: replaced by the packed GEMM on branch 'gemm'.
public static unsafe class CpuGemm
{
    public static void Gemm(int m, int n, int k, float alpha, float* a, long aRowStride, long aColStride, float* b, long bRowStride, long bColStride, float beta, float* c, long cRowStride)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float acc = 0;
                for (int p = 0; p < k; p++) acc += a[i * aRowStride + p * aColStride] * b[p * bRowStride + j * bColStride];
                c[i * cRowStride + j] = beta == 0 ? alpha * acc : alpha * acc + beta * c[i * cRowStride + j];
            }
    }

    public static void Gemm(int m, int n, int k, double alpha, double* a, long aRowStride, long aColStride, double* b, long bRowStride, long bColStride, double beta, double* c, long cRowStride)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double acc = 0;
                for (int p = 0; p < k; p++) acc += a[i * aRowStride + p * aColStride] * b[p * bRowStride + j * bColStride];
                c[i * cRowStride + j] = beta == 0 ? alpha * acc : alpha * acc + beta * c[i * cRowStride + j];
            }
    }
}
