package dev.visor.cli.remote;

import com.fasterxml.jackson.databind.JsonNode;
import dev.visor.vmm.Sizes;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/** Aligned columns under a header, two spaces apart, the last one not padded; and cell helpers. */
final class Table {
    private final List<String[]> rows = new ArrayList<>();
    private final int columns;

    Table(String... headers) {
        rows.add(headers);
        columns = headers.length;
    }

    Table add(Object... cells) {
        if (cells.length != columns) throw new IllegalArgumentException(cells.length + " cells for " + columns + " columns");
        String[] row = new String[columns];
        for (int i = 0; i < columns; i++) row[i] = cells[i] == null ? "-" : DaemonClient.oneLine(String.valueOf(cells[i]));
        rows.add(row);
        return this;
    }

    void print(PrintWriter out) {
        int[] width = new int[columns];
        for (String[] row : rows) for (int i = 0; i < columns; i++) width[i] = Math.max(width[i], row[i].length());
        for (String[] row : rows) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < columns; i++) {
                if (i > 0) line.append("  ");
                line.append(row[i]);
                if (i < columns - 1) line.append(" ".repeat(width[i] - row[i].length()));
            }
            out.println(line.toString().stripTrailing());
        }
        out.flush();
    }

    /** "label: value" lines, the values aligned. */
    static final class Fields {
        private final List<String[]> lines = new ArrayList<>();

        Fields add(String label, Object value) {
            lines.add(new String[] {label, value == null ? "-" : DaemonClient.oneLine(String.valueOf(value))});
            return this;
        }

        void print(PrintWriter out) {
            int w = 0;
            for (String[] l : lines) w = Math.max(w, l[0].length() + 1);
            for (String[] l : lines) out.println((l[0] + ":" + " ".repeat(w - l[0].length() - 1) + " " + l[1]).stripTrailing());
            out.flush();
        }
    }

    // ---- cells from JSON

    /** The text of a field, or null ("-") when it is missing or null. */
    static String text(JsonNode n) {
        return n == null || n.isMissingNode() || n.isNull() ? null : n.isTextual() ? n.asText() : n.toString();
    }

    /** A byte count as it would be typed (512M, 1G) when that is exact, else rounded (27.4 MiB). */
    static String size(JsonNode n) {
        if (n == null || !n.canConvertToLong()) return text(n);
        long bytes = n.asLong();
        String exact = Sizes.exact(bytes);
        return exact.equals(Long.toString(bytes)) && bytes >= 1024 ? Sizes.human(bytes) : exact;
    }

    /** A rounded byte count (27.4 MiB). */
    static String human(JsonNode n) {
        return n == null || !n.canConvertToLong() ? text(n) : Sizes.human(n.asLong());
    }

    static String yesNo(JsonNode n) {
        return n == null || !n.isBoolean() ? text(n) : n.asBoolean() ? "yes" : "no";
    }

    static String onOff(JsonNode n) {
        return n == null || !n.isBoolean() ? text(n) : n.asBoolean() ? "on" : "off";
    }

    /** A pid, or "-" when there is no process (null or 0). */
    static String pid(JsonNode n) {
        return n == null || !n.canConvertToLong() || n.asLong() == 0 ? null : n.asText();
    }

    /** The disk's device name: vda for the first, vdb... */
    static String device(int index) {
        StringBuilder s = new StringBuilder();
        int i = index;
        do {
            s.insert(0, (char) ('a' + i % 26));
            i = i / 26 - 1;
        } while (i >= 0);
        return "vd" + s;
    }
}
