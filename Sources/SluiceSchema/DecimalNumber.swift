import SluiceJSON

/// A JSON number's text read as an exact decimal, without copying it: its sign, where its digits
/// are, and its exponent. fge's validator reads numbers as BigDecimal and compares them exactly;
/// so does this, digit by digit, so that 0.1, 1e400 and 123456789012345678901234567890 are all
/// compared without rounding.
struct DecimalNumber: Sendable {
    var negative: Bool
    /// The digits before the point, and after it.
    var integerDigits: Range<Int>
    var fractionDigits: Range<Int>
    /// The significant digits (first to last non-zero) as positions in the integer digits followed
    /// by the fraction digits; empty when the value is zero.
    var significant: Range<Int>
    /// The exponent written after `e`, saturated at ±`exponentMagnitudeMax * 2`.
    var exponent: Int
    /// Whether the text has neither a fraction nor an exponent: what draft 4's `integer` means to
    /// fge (Jackson reads `1.0` and `1e2` as decimals, NodeType number) and to python-jsonschema's
    /// Draft4Validator (json.loads makes them floats, and draft 4's integer check wants an int; only
    /// draft 6 and later accept 1.0). So `1.0` is a number but not an integer, `-0` an integer.
    var isIntegerText: Bool

    /// The largest exponent magnitude accepted. Jackson (under fge) keeps a BigDecimal's scale in a
    /// 32-bit int and refuses numbers beyond it, so a body number with a larger exponent is not JSON
    /// that API Gateway can read; Sluice refuses it too, and every exponent it keeps fits an Int
    /// with room for the digit counts added to it.
    static let exponentMagnitudeMax = Int(Int32.max)

    var isZero: Bool { significant.isEmpty }
    var exponentInRange: Bool { exponent >= -DecimalNumber.exponentMagnitudeMax && exponent <= DecimalNumber.exponentMagnitudeMax }

    /// The value is 0.d₁d₂… × 10^adjusted, d₁ the first significant digit.
    var adjustedExponent: Int { integerDigits.count - significant.lowerBound + exponent }

    /// The value is (the significant digits as an integer) × 10^unitExponent.
    var unitExponent: Int { integerDigits.count - significant.upperBound + exponent }

    /// The digit at `position` of the integer digits followed by the fraction digits.
    @inline(__always)
    func digit(_ bytes: Span<UInt8>, _ position: Int) -> UInt8 {
        let integerCount = integerDigits.count
        let byte = position < integerCount ? bytes[integerDigits.lowerBound + position]
            : bytes[fractionDigits.lowerBound + position - integerCount]
        return byte &- 0x30
    }

    /// Reads the number text at `range`, which must follow JSON's grammar (`valid(_:_:)`).
    init(_ bytes: Span<UInt8>, _ range: Range<Int>) {
        var offset = range.lowerBound
        negative = bytes[offset] == 0x2D
        if negative { offset += 1 }
        let integerStart = offset
        while offset < range.upperBound, bytes[offset] &- 0x30 < 10 { offset += 1 }
        integerDigits = integerStart..<offset
        var fractionStart = offset
        var hasFraction = false
        if offset < range.upperBound, bytes[offset] == 0x2E {
            hasFraction = true
            offset += 1
            fractionStart = offset
            while offset < range.upperBound, bytes[offset] &- 0x30 < 10 { offset += 1 }
        }
        fractionDigits = fractionStart..<offset
        var exponentValue = 0
        var hasExponent = false
        if offset < range.upperBound {
            hasExponent = true
            offset += 1  // e or E
            var exponentNegative = false
            if bytes[offset] == 0x2D || bytes[offset] == 0x2B {
                exponentNegative = bytes[offset] == 0x2D
                offset += 1
            }
            let saturation = DecimalNumber.exponentMagnitudeMax * 2
            while offset < range.upperBound {
                exponentValue = min(exponentValue * 10 + Int(bytes[offset] &- 0x30), saturation)
                offset += 1
            }
            if exponentNegative { exponentValue = -exponentValue }
        }
        exponent = exponentValue
        isIntegerText = !hasFraction && !hasExponent
        // The significant digits: skip leading and trailing zeros of the whole digit sequence.
        let total = integerDigits.count + fractionDigits.count
        var first = 0
        var last = total
        significant = 0..<0
        let digits = (integer: integerDigits, fraction: fractionDigits)
        func at(_ position: Int) -> UInt8 {
            position < digits.integer.count ? bytes[digits.integer.lowerBound + position]
                : bytes[digits.fraction.lowerBound + position - digits.integer.count]
        }
        while first < total, at(first) == 0x30 { first += 1 }
        if first < total {
            while at(last - 1) == 0x30 { last -= 1 }
            significant = first..<last
        }
    }

    /// Whether `range` holds exactly one number in JSON's grammar.
    static func valid(_ bytes: Span<UInt8>, _ range: Range<Int>) -> Bool {
        guard !range.isEmpty else { return false }
        var scanner = JSONScanner(end: range.upperBound)
        scanner.position = range.lowerBound
        return scanner.scanNumber(bytes) && scanner.position == range.upperBound
    }

    /// -1, 0 or 1 as `self` (in `bytes`) is less than, equal to or greater than `other` (in
    /// `otherBytes`), exactly.
    func compare(_ bytes: Span<UInt8>, to other: DecimalNumber, _ otherBytes: Span<UInt8>) -> Int {
        let sign = isZero ? 0 : (negative ? -1 : 1)
        let otherSign = other.isZero ? 0 : (other.negative ? -1 : 1)
        if sign != otherSign { return sign < otherSign ? -1 : 1 }
        if sign == 0 { return 0 }
        var magnitude = 0
        if adjustedExponent != other.adjustedExponent {
            magnitude = adjustedExponent < other.adjustedExponent ? -1 : 1
        } else {
            let count = max(significant.count, other.significant.count)
            var index = 0
            while index < count {
                let mine = index < significant.count ? digit(bytes, significant.lowerBound + index) : 0
                let theirs = index < other.significant.count ? other.digit(otherBytes, other.significant.lowerBound + index) : 0
                if mine != theirs {
                    magnitude = mine < theirs ? -1 : 1
                    break
                }
                index += 1
            }
        }
        return sign * magnitude
    }

    /// A hash under which numbers of equal value are equal (1, 1.0, 10e-1, -0 and 0).
    func hash(_ bytes: Span<UInt8>) -> UInt64 {
        if isZero { return ValueHash.mix(0x6E75_6D62_6572_3030) }
        var state: UInt64 = negative ? 0x2D : 0x2B
        state = ValueHash.mix(state ^ UInt64(bitPattern: Int64(adjustedExponent)))
        var position = significant.lowerBound
        while position < significant.upperBound {
            state = (state ^ UInt64(digit(bytes, position))) &* 0x0000_0100_0000_01B3
            position += 1
        }
        return ValueHash.mix(state)
    }
}

/// A `multipleOf` divisor compiled to mantissa × 10^exponent, the mantissa without trailing zeros.
/// Divisibility is then decided exactly for any instance (see `divides`), with the mantissa kept in
/// a UInt64: a divisor of more than 18 significant digits is refused at compile.
struct Divisor: Sendable {
    var mantissa: UInt64
    var exponent: Int
    /// The divisor's text in the schema pool, for messages.
    var text: Range<Int>

    static let significantDigitsMax = 18

    init?(_ number: DecimalNumber, _ bytes: Span<UInt8>, text: Range<Int>) {
        guard !number.isZero, !number.negative, number.significant.count <= Divisor.significantDigitsMax else { return nil }
        var value: UInt64 = 0
        var position = number.significant.lowerBound
        while position < number.significant.upperBound {
            value = value * 10 + UInt64(number.digit(bytes, position))
            position += 1
        }
        mantissa = value
        exponent = number.unitExponent
        self.text = text
    }

    /// Whether `number` is an integral multiple of the divisor. With the instance a × 10^p and the
    /// divisor b × 10^q (a and b without trailing zeros), a × 10^p / (b × 10^q) is an integer
    /// exactly when b divides a × 10^(p−q): when p < q that would need 10 to divide a, which it does
    /// not, and otherwise it is (a mod b) × (10^(p−q) mod b) ≡ 0 (mod b).
    func divides(_ number: DecimalNumber, _ bytes: Span<UInt8>) -> Bool {
        if number.isZero { return true }
        let shift = number.unitExponent - exponent
        if shift < 0 { return false }
        if mantissa == 1 { return true }
        var remainder: UInt64 = 0
        var position = number.significant.lowerBound
        while position < number.significant.upperBound {
            // remainder < mantissa < 10^18, so remainder × 10 + 9 stays below 2^64.
            remainder = (remainder * 10 + UInt64(number.digit(bytes, position))) % mantissa
            position += 1
        }
        if remainder == 0 { return true }
        return multiplyModulo(remainder, powerOfTenModulo(shift)) == 0
    }

    private func multiplyModulo(_ left: UInt64, _ right: UInt64) -> UInt64 {
        let product = left.multipliedFullWidth(by: right)
        return mantissa.dividingFullWidth((product.high, product.low)).remainder
    }

    private func powerOfTenModulo(_ power: Int) -> UInt64 {
        var result: UInt64 = 1 % mantissa
        var base: UInt64 = 10 % mantissa
        var remaining = power
        while remaining > 0 {
            if remaining & 1 == 1 { result = multiplyModulo(result, base) }
            base = multiplyModulo(base, base)
            remaining >>= 1
        }
        return result
    }
}
