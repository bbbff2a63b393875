package io.jublk.targets;

import java.util.Locale;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Sizes with K/M/G/T suffixes (powers of 1024), as the targets' `ublk add` options take them. */
public final class Sizes implements ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
        return parse(value);
    }

    public static long parse(String value) {
        String v = value.trim().toUpperCase(Locale.ROOT);
        if (v.endsWith("B") && v.length() > 1 && "KMGT".indexOf(v.charAt(v.length() - 2)) >= 0) {
            v = v.substring(0, v.length() - 1);
        } else if (v.endsWith("IB") && v.length() > 2) {
            v = v.substring(0, v.length() - 2);
        }
        int shift = 0;
        if (!v.isEmpty()) {
            switch (v.charAt(v.length() - 1)) {
                case 'K' -> shift = 10;
                case 'M' -> shift = 20;
                case 'G' -> shift = 30;
                case 'T' -> shift = 40;
                default -> shift = -1;
            }
        }
        String digits = shift > 0 ? v.substring(0, v.length() - 1) : v;
        shift = Math.max(shift, 0);
        long n;
        try {
            n = Long.parseLong(digits);
        } catch (NumberFormatException e) {
            throw new TypeConversionException("'" + value + "' is not a size (e.g. 512M, 1G, 4096)");
        }
        if (n < 0 || (shift > 0 && n > (Long.MAX_VALUE >> shift))) {
            throw new TypeConversionException("'" + value + "' is not a valid size");
        }
        return n << shift;
    }

    /** 1073741824 → "1G", 1536 → "1536". */
    public static String format(long bytes) {
        String[] units = {"", "K", "M", "G", "T"};
        int u = 0;
        while (u < units.length - 1 && bytes != 0 && bytes % 1024 == 0) {
            bytes /= 1024;
            u++;
        }
        return bytes + units[u];
    }
}
