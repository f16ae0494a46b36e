namespace Engine.Ops;

/// <summary>
/// The error function and its complement in double precision. .NET has no <c>Math.Erf</c>; this follows
/// W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23 (1969), with the
/// three ranges of his CALERF: a rational function of x² near zero, and exp(-x²) times a rational function
/// (of x, then of 1/x²) further out, which keeps erfc's relative accuracy in the tail.
/// </summary>
public static class ErrorFunction
{
    private const double OneOverSqrtPi = 0.56418958354775628695;
    private const double SmallThreshold = 0.46875;
    private const double TinyX = 1.11e-16;        // below this, erf(x) = 2x/sqrt(pi) to working precision
    private const double ErfcUnderflow = 26.543;  // erfc(x) underflows to 0 above this

    private static readonly double[] A = [3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02, 3.20937758913846947e03, 1.85777706184603153e-1];
    private static readonly double[] B = [2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03];
    private static readonly double[] C = [5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01, 2.98635138197400131e02,
        8.81952221241769090e02, 1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8];
    private static readonly double[] D = [1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02, 1.62138957456669019e03,
        3.29079923573345963e03, 4.36261909014324716e03, 3.43936767414372164e03, 1.23033935480374942e03];
    private static readonly double[] P = [3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2,
        6.58749161529837803e-4, 1.63153871373020978e-2];
    private static readonly double[] Q = [2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1, 6.05183413124413191e-2,
        2.33520497626869185e-3];

    /// <summary>erf(x) = 2/sqrt(pi) * integral from 0 to x of exp(-t²) dt.</summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return x;
        double y = Math.Abs(x);
        if (y <= SmallThreshold) return x * SmallRatio(y);
        double r = 0.5 - TailErfc(y) + 0.5;
        return x < 0 ? -r : r;
    }

    /// <summary>erfc(x) = 1 - erf(x), accurate also where erf(x) is close to 1.</summary>
    public static double Erfc(double x)
    {
        if (double.IsNaN(x)) return x;
        double y = Math.Abs(x);
        if (y <= SmallThreshold) return 0.5 - x * SmallRatio(y) + 0.5;
        double r = TailErfc(y);
        return x < 0 ? 2 - r : r;
    }

    /// <summary>erf(x) / x for |x| &lt;= 0.46875.</summary>
    private static double SmallRatio(double y)
    {
        double ysq = y > TinyX ? y * y : 0;
        double num = A[4] * ysq, den = ysq;
        for (int i = 0; i < 3; i++)
        {
            num = (num + A[i]) * ysq;
            den = (den + B[i]) * ysq;
        }
        return (num + A[3]) / (den + B[3]);
    }

    /// <summary>erfc(y) for y &gt; 0.46875.</summary>
    private static double TailErfc(double y)
    {
        if (y >= ErfcUnderflow) return 0;
        double r;
        if (y <= 4)
        {
            double num = C[8] * y, den = y;
            for (int i = 0; i < 7; i++)
            {
                num = (num + C[i]) * y;
                den = (den + D[i]) * y;
            }
            r = (num + C[7]) / (den + D[7]);
        }
        else
        {
            double z = 1 / (y * y);
            double num = P[5] * z, den = z;
            for (int i = 0; i < 4; i++)
            {
                num = (num + P[i]) * z;
                den = (den + Q[i]) * z;
            }
            r = z * (num + P[4]) / (den + Q[4]);
            r = (OneOverSqrtPi - r) / y;
        }
        // exp(-y²) split as exp(-s²) exp(-(y - s)(y + s)) with s = y rounded down to 1/16, so that the
        // rounding error of y² is not magnified by the exponential.
        double s = Math.Truncate(y * 16) / 16;
        double del = (y - s) * (y + s);
        return Math.Exp(-s * s) * Math.Exp(-del) * r;
    }
}
