using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace Engine.Models.Serialization;

/// <summary>
/// Conversions between the element types safetensors stores and the engine's (little-endian hosts
/// only, like the format). Every conversion is exact except F32 → F16/BF16, which rounds to nearest even.
/// </summary>
internal static class ElementConversion
{
    /// <summary>True when the stored bytes are already the engine's representation, so data can be read straight into a tensor.</summary>
    public static bool IsNative(SafeTensorsDType dtype) =>
        dtype is SafeTensorsDType.F32 or SafeTensorsDType.F64 or SafeTensorsDType.I64;

    /// <summary>
    /// Decodes stored elements <paramref name="src"/> of type <paramref name="from"/> into engine elements
    /// (<see cref="SafeTensorsDTypeInfo.EngineDType"/>) in <paramref name="dst"/>.
    /// </summary>
    /// <returns>Null on success, or what is wrong (an unsigned value beyond the range of I64).</returns>
    public static string? Decode(SafeTensorsDType from, ReadOnlySpan<byte> src, Span<byte> dst)
    {
        switch (from)
        {
            case SafeTensorsDType.F32 or SafeTensorsDType.F64 or SafeTensorsDType.I64:
                src.CopyTo(dst);
                break;
            case SafeTensorsDType.BOOL:
                for (int i = 0; i < src.Length; i++) dst[i] = src[i] != 0 ? (byte)1 : (byte)0;
                break;
            case SafeTensorsDType.F16:
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(src), MemoryMarshal.Cast<byte, float>(dst));
                break;
            case SafeTensorsDType.BF16:
            {
                var s = MemoryMarshal.Cast<byte, ushort>(src);
                var d = MemoryMarshal.Cast<byte, uint>(dst);
                for (int i = 0; i < s.Length; i++) d[i] = (uint)s[i] << 16;
                break;
            }
            case SafeTensorsDType.F8_E5M2:
            {
                // E5M2 is the upper byte of an IEEE half: exact through Half.
                var d = MemoryMarshal.Cast<byte, float>(dst);
                for (int i = 0; i < src.Length; i++) d[i] = (float)BitConverter.UInt16BitsToHalf((ushort)(src[i] << 8));
                break;
            }
            case SafeTensorsDType.F8_E4M3:
            {
                var d = MemoryMarshal.Cast<byte, float>(dst);
                for (int i = 0; i < src.Length; i++) d[i] = E4M3Table[src[i]];
                break;
            }
            case SafeTensorsDType.U8: Widen<byte>(src, MemoryMarshal.Cast<byte, long>(dst)); break;
            case SafeTensorsDType.I8: Widen(MemoryMarshal.Cast<byte, sbyte>(src), MemoryMarshal.Cast<byte, long>(dst)); break;
            case SafeTensorsDType.I16: Widen(MemoryMarshal.Cast<byte, short>(src), MemoryMarshal.Cast<byte, long>(dst)); break;
            case SafeTensorsDType.U16: Widen(MemoryMarshal.Cast<byte, ushort>(src), MemoryMarshal.Cast<byte, long>(dst)); break;
            case SafeTensorsDType.I32: Widen(MemoryMarshal.Cast<byte, int>(src), MemoryMarshal.Cast<byte, long>(dst)); break;
            case SafeTensorsDType.U32: Widen(MemoryMarshal.Cast<byte, uint>(src), MemoryMarshal.Cast<byte, long>(dst)); break;
            case SafeTensorsDType.U64:
            {
                var s = MemoryMarshal.Cast<byte, ulong>(src);
                var d = MemoryMarshal.Cast<byte, long>(dst);
                for (int i = 0; i < s.Length; i++)
                {
                    if (s[i] > long.MaxValue) return $"U64 value {s[i]} does not fit the engine's I64.";
                    d[i] = (long)s[i];
                }
                break;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(from), from, null);
        }
        return null;
    }

    private static void Widen<T>(ReadOnlySpan<T> src, Span<long> dst) where T : IBinaryInteger<T>
    {
        for (int i = 0; i < src.Length; i++) dst[i] = long.CreateTruncating(src[i]);
    }

    /// <summary>
    /// Encodes engine elements of <paramref name="from"/> into the stored type <paramref name="to"/>:
    /// the same representation, or F32 narrowed to F16 or BF16.
    /// </summary>
    public static void Encode(DType from, SafeTensorsDType to, ReadOnlySpan<byte> src, Span<byte> dst)
    {
        if (to == SafeTensorsDTypeInfo.FromEngine(from))
        {
            src.CopyTo(dst);
            return;
        }
        var s = MemoryMarshal.Cast<byte, float>(src);
        if (from == DType.F32 && to == SafeTensorsDType.F16)
            TensorPrimitives.ConvertToHalf(s, MemoryMarshal.Cast<byte, Half>(dst));
        else if (from == DType.F32 && to == SafeTensorsDType.BF16)
        {
            var d = MemoryMarshal.Cast<byte, ushort>(dst);
            for (int i = 0; i < s.Length; i++) d[i] = ToBFloat16(s[i]);
        }
        else throw new ArgumentException($"safetensors: cannot store {from.TorchName()} as {to}.");
    }

    /// <summary>Rounds a float to bfloat16, to nearest with ties to even; NaN stays a (quiet) NaN.</summary>
    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x0040);
        uint roundingBias = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + roundingBias) >> 16);
    }

    /// <summary>All 256 F8_E4M3 ("fn": bias 7, no infinities, S.1111.111 is NaN) values.</summary>
    private static readonly float[] E4M3Table = BuildE4M3Table();

    private static float[] BuildE4M3Table()
    {
        var table = new float[256];
        for (int b = 0; b < 256; b++)
        {
            int sign = b >> 7, exponent = (b >> 3) & 0xF, mantissa = b & 7;
            float magnitude = exponent == 15 && mantissa == 7 ? float.NaN
                : exponent == 0 ? mantissa / 8f * MathF.Pow(2, -6)
                : (1 + mantissa / 8f) * MathF.Pow(2, exponent - 7);
            table[b] = sign == 1 ? -magnitude : magnitude;
        }
        return table;
    }
}
