using static Engine.Ops.ErfCoefficients;

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
        double z = y > TinyX ? y * y : 0;
        double num = (((A4 * z + A0) * z + A1) * z + A2) * z + A3;
        double den = (((z + B0) * z + B1) * z + B2) * z + B3;
        return num / den;
    }

    /// <summary>erfc(y) for y &gt; 0.46875.</summary>
    private static double TailErfc(double y)
    {
        if (y >= ErfcUnderflow) return 0;
        double r;
        if (y <= 4)
        {
            double num = (((((((C8 * y + C0) * y + C1) * y + C2) * y + C3) * y + C4) * y + C5) * y + C6) * y + C7;
            double den = (((((((y + D0) * y + D1) * y + D2) * y + D3) * y + D4) * y + D5) * y + D6) * y + D7;
            r = num / den;
        }
        else
        {
            double z = 1 / (y * y);
            double num = ((((P5 * z + P0) * z + P1) * z + P2) * z + P3) * z + P4;
            double den = ((((z + Q0) * z + Q1) * z + Q2) * z + Q3) * z + Q4;
            r = z * num / den;
            r = (OneOverSqrtPi - r) / y;
        }
        return ExpMinusSquare(y) * r;
    }

    /// <summary>
    /// exp(-y²) without magnifying the rounding error of y²: y² = hi + lo exactly (lo from a fused multiply-add),
    /// and exp(-hi - lo) = exp(-hi) (1 - lo) since |lo| is below an ulp of hi.
    /// </summary>
    internal static double ExpMinusSquare(double y)
    {
        double hi = y * y;
        double lo = Math.FusedMultiplyAdd(y, y, -hi);
        return Math.Exp(-hi) * (1 - lo);
    }
}

/// <summary>Cody's coefficients (the loops of his CALERF, evaluated in Horner form by <see cref="ErrorFunction"/> and the vector GELU).</summary>
internal static class ErfCoefficients
{
    public const double A0 = 3.16112374387056560e00, A1 = 1.13864154151050156e02, A2 = 3.77485237685302021e02, A3 = 3.20937758913846947e03, A4 = 1.85777706184603153e-1;
    public const double B0 = 2.36012909523441209e01, B1 = 2.44024637934444173e02, B2 = 1.28261652607737228e03, B3 = 2.84423683343917062e03;
    public const double C0 = 5.64188496988670089e-1, C1 = 8.88314979438837594e00, C2 = 6.61191906371416295e01, C3 = 2.98635138197400131e02, C4 = 8.81952221241769090e02, C5 = 1.71204761263407058e03, C6 = 2.05107837782607147e03, C7 = 1.23033935479799725e03, C8 = 2.15311535474403846e-8;
    public const double D0 = 1.57449261107098347e01, D1 = 1.17693950891312499e02, D2 = 5.37181101862009858e02, D3 = 1.62138957456669019e03, D4 = 3.29079923573345963e03, D5 = 4.36261909014324716e03, D6 = 3.43936767414372164e03, D7 = 1.23033935480374942e03;
    public const double P0 = 3.05326634961232344e-1, P1 = 3.60344899949804439e-1, P2 = 1.25781726111229246e-1, P3 = 1.60837851487422766e-2, P4 = 6.58749161529837803e-4, P5 = 1.63153871373020978e-2;
    public const double Q0 = 2.56852019228982242e00, Q1 = 1.87295284992346725e00, Q2 = 5.27905102951428412e-1, Q3 = 6.05183413124413191e-2, Q4 = 2.33520497626869185e-3;
}
