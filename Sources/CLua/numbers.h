#ifndef SLUICE_CLUA_NUMBERS_H
#define SLUICE_CLUA_NUMBERS_H

// Reading and writing numbers as C's strtod and printf do, to the byte, for the common
// cases only: each function reports what it cannot do, and the caller then uses the C
// library. Lua's tonumber, tostring and string.format use them (shim.h).

#include <math.h>
#include <stdint.h>
#include <string.h>

/// Reads a plain decimal (`-?digits[.digits]`, at most 19 digits, a mantissa up to
/// 2^53 and 22 places) into `result`; 0 for anything else. Both the mantissa and the
/// power of ten are exact doubles, so one division rounds exactly as strtod does.
static inline int sluice_plain_decimal(const char *text, size_t length, double *result) {
    static const double powers[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    size_t index = 0;
    int negative = length > 0 && text[0] == '-';
    index += negative;
    uint64_t mantissa = 0;
    int digits = 0, places = 0, point = 0;
    for (; index < length; index++) {
        char c = text[index];
        if (c >= '0' && c <= '9') {
            if (++digits > 19) return 0;
            mantissa = mantissa * 10 + (uint64_t)(c - '0');
            places += point;
        } else if (c == '.' && !point) {
            point = 1;
        } else {
            return 0;
        }
    }
    if (digits == 0 || places > 22 || mantissa > (UINT64_C(1) << 53)) return 0;
    double value = (double)mantissa / powers[places];
    *result = negative ? -value : value;
    return 1;
}

static const uint64_t sluice_powers_of_ten[20] = {
    UINT64_C(1), UINT64_C(10), UINT64_C(100), UINT64_C(1000), UINT64_C(10000), UINT64_C(100000),
    UINT64_C(1000000), UINT64_C(10000000), UINT64_C(100000000), UINT64_C(1000000000),
    UINT64_C(10000000000), UINT64_C(100000000000), UINT64_C(1000000000000), UINT64_C(10000000000000),
    UINT64_C(100000000000000), UINT64_C(1000000000000000), UINT64_C(10000000000000000),
    UINT64_C(100000000000000000), UINT64_C(1000000000000000000), UINT64_C(10000000000000000000)};

/// 10^power for power up to 38, as a 128-bit integer.
static inline unsigned __int128 sluice_power_of_ten(int power) {
    unsigned __int128 result = 1;
    while (power >= 19) { result *= sluice_powers_of_ten[19]; power -= 19; }
    return result * sluice_powers_of_ten[power];
}

/// `numerator` / 2^shift (shift below 128) rounded to nearest, ties to even, as printf
/// rounds the exact binary value.
static inline unsigned __int128 sluice_shift_rounded(unsigned __int128 numerator, int shift) {
    if (shift == 0) return numerator;
    unsigned __int128 quotient = numerator >> shift;
    unsigned __int128 remainder = numerator & ((((unsigned __int128)1) << shift) - 1);
    unsigned __int128 half = ((unsigned __int128)1) << (shift - 1);
    if (remainder > half || (remainder == half && (quotient & 1))) quotient += 1;
    return quotient;
}

/// `numerator` / `denominator`, rounded to nearest, ties to even.
static inline unsigned __int128 sluice_divide_rounded(unsigned __int128 numerator, unsigned __int128 denominator) {
    unsigned __int128 quotient = numerator / denominator;
    unsigned __int128 remainder = numerator - quotient * denominator;
    unsigned __int128 other = denominator - remainder;
    if (remainder > other || (remainder == other && (quotient & 1))) quotient += 1;
    return quotient;
}

/// Writes `value`'s decimal digits at `out`, at least `width` of them (zeros first);
/// returns how many.
static inline int sluice_write_digits(uint64_t value, int width, char *out) {
    char digits[20];
    int count = 0;
    do { digits[count++] = (char)('0' + value % 10); value /= 10; } while (value > 0);
    while (count < width) digits[count++] = '0';
    for (int index = 0; index < count; index++) out[index] = digits[count - 1 - index];
    return count;
}

/// Splits a finite, positive `magnitude` into mantissa × 2^exponent (mantissa below 2^53).
static inline uint64_t sluice_split_double(double magnitude, int *exponent) {
    int binary = 0;
    double fraction = frexp(magnitude, &binary);
    *exponent = binary - 53;
    return (uint64_t)ldexp(fraction, 53);
}

/// printf's "%.<places>f" of `value` (places up to 9) into `out` (at least 40 bytes), for
/// magnitudes below 2^63; -1 for anything else. Exact: the value's binary digits times
/// 10^places fit in 128 bits, so one rounding, to nearest and ties to even, as printf.
static inline int sluice_format_fixed(double value, int places, char *out) {
    if (!(fabs(value) < 9.2e18) || places < 0 || places > 9) return -1;
    int length = 0;
    if (signbit(value)) out[length++] = '-';
    double magnitude = fabs(value);
    unsigned __int128 scaled = 0;
    if (magnitude != 0) {
        int exponent = 0;
        uint64_t mantissa = sluice_split_double(magnitude, &exponent);
        unsigned __int128 product = (unsigned __int128)mantissa * sluice_powers_of_ten[places];
        if (exponent >= 0) scaled = product << exponent;
        else if (exponent > -120) scaled = sluice_shift_rounded(product, -exponent);
    }
    uint64_t whole = (uint64_t)(scaled / sluice_powers_of_ten[places]);
    uint64_t fraction = (uint64_t)(scaled % sluice_powers_of_ten[places]);
    length += sluice_write_digits(whole, 1, out + length);
    if (places > 0) {
        out[length++] = '.';
        length += sluice_write_digits(fraction, places, out + length);
    }
    return length;
}

/// `mantissa` * 2^`exponent` * 10^`scale`, rounded to nearest, ties to even; sets `*ok`
/// to 0 where the parts would not fit.
static inline unsigned __int128 sluice_scaled_rounded(uint64_t mantissa, int exponent, int scale, int *ok) {
    if (scale >= 0) {
        if (scale > 22) { *ok = 0; return 0; }
        unsigned __int128 product = (unsigned __int128)mantissa * sluice_power_of_ten(scale);
        if (exponent >= 0) {
            if (exponent > 20) { *ok = 0; return 0; }
            return product << exponent;
        }
        if (-exponent >= 127) { *ok = 0; return 0; }
        return sluice_shift_rounded(product, -exponent);
    }
    unsigned __int128 divisor = sluice_power_of_ten(-scale);
    if (exponent >= 0) {
        if (exponent > 74) { *ok = 0; return 0; }
        return sluice_divide_rounded((unsigned __int128)mantissa << exponent, divisor);
    }
    if (-exponent > 20) { *ok = 0; return 0; }
    return sluice_divide_rounded(mantissa, divisor << -exponent);
}

/// printf's "%.<precision>g" of `value` into `out` (at least 32 bytes), for precision 1
/// to 17 (Lua formats numbers with 14, Redis a script's number arguments with 17) and
/// magnitudes from about 1e-9 (1e-6 at 17 digits) to below 1e38, and zero; -1 for
/// anything else. The digits come from the exact value with one rounding, as printf's do.
static inline int sluice_format_general(double value, int precision, char *out) {
    if (precision < 1 || precision > 17) return -1;
    int length = 0;
    if (signbit(value)) out[length++] = '-';
    double magnitude = fabs(value);
    if (magnitude == 0) {
        out[length++] = '0';
        return length;
    }
    // Whole numbers of up to `precision` digits, the usual counts and instants, print
    // as integers.
    if (magnitude < (double)sluice_powers_of_ten[precision] && magnitude == floor(magnitude)) {
        return length + sluice_write_digits((uint64_t)magnitude, 1, out + length);
    }
    if (!(magnitude >= 1e-9 && magnitude < 1e38)) return -1;
    int exponent = 0;
    uint64_t mantissa = sluice_split_double(magnitude, &exponent);
    // The decimal exponent: log10's guess, corrected until the digits number `precision`.
    int decimal = (int)floor(log10(magnitude));
    uint64_t digits = 0;
    int ok = 1;
    for (int attempt = 0; attempt < 3; attempt++) {
        unsigned __int128 rounded = sluice_scaled_rounded(mantissa, exponent, precision - 1 - decimal, &ok);
        if (!ok) return -1;
        if (rounded >= sluice_powers_of_ten[precision]) { decimal += 1; continue; }
        if (rounded < sluice_powers_of_ten[precision - 1]) { decimal -= 1; continue; }
        if (rounded == sluice_powers_of_ten[precision - 1]) {
            // 1 followed by zeros may be a value just below that power of ten, rounded up
            // (log10 guessed one too high: 1e-6 is 9.99...95e-07). Then the exponent below
            // gives all `precision` digits, unless they too round up to the power of ten.
            unsigned __int128 below = sluice_scaled_rounded(mantissa, exponent, precision - decimal, &ok);
            if (!ok) return -1;
            if (below < sluice_powers_of_ten[precision]) {
                decimal -= 1;
                rounded = below;
            }
        }
        digits = (uint64_t)rounded;
        break;
    }
    if (digits == 0) return -1;
    char text[17];
    sluice_write_digits(digits, precision, text);
    int significant = precision;
    while (significant > 1 && text[significant - 1] == '0') significant--;
    if (decimal >= -4 && decimal < precision) {
        if (decimal >= 0) {
            memcpy(out + length, text, (size_t)decimal + 1);
            length += decimal + 1;
            if (significant > decimal + 1) {
                out[length++] = '.';
                memcpy(out + length, text + decimal + 1, (size_t)(significant - decimal - 1));
                length += significant - decimal - 1;
            }
        } else {
            out[length++] = '0';
            out[length++] = '.';
            for (int zero = 0; zero < -decimal - 1; zero++) out[length++] = '0';
            memcpy(out + length, text, (size_t)significant);
            length += significant;
        }
    } else {
        out[length++] = text[0];
        if (significant > 1) {
            out[length++] = '.';
            memcpy(out + length, text + 1, (size_t)(significant - 1));
            length += significant - 1;
        }
        out[length++] = 'e';
        out[length++] = decimal < 0 ? '-' : '+';
        length += sluice_write_digits((uint64_t)(decimal < 0 ? -decimal : decimal), 2, out + length);
    }
    return length;
}

#endif
