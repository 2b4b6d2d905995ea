package dev.visor.block;

import java.nio.file.Path;
import java.util.Locale;

/**
 * What {@code BlockImages.info} finds in an image's header, without opening its backing chain.
 *
 * @param path          the image file
 * @param format        "raw" or "qcow2"
 * @param virtualSize   disk size as the guest sees it, in bytes
 * @param fileSize      length of the image file in bytes (Java cannot see how much of it is allocated)
 * @param clusterSize   qcow2 cluster size in bytes; 0 for raw
 * @param version       qcow2 version (2 or 3); 0 for raw
 * @param backingFile   the backing file name as stored in the image, or null
 * @param backingFormat the backing file format as stored, or null if the image does not say
 */
public record ImageInfo(Path path, String format, long virtualSize, long fileSize, int clusterSize, int version,
                        String backingFile, String backingFormat) {

    /** Human-readable lines in the manner of {@code qemu-img info}. */
    public String describe() {
        StringBuilder s = new StringBuilder();
        s.append("image: ").append(path).append('\n');
        s.append("file format: ").append(format).append('\n');
        s.append("virtual size: ").append(humanSize(virtualSize)).append(" (").append(virtualSize).append(" bytes)\n");
        s.append("file length: ").append(humanSize(fileSize)).append('\n');
        if (clusterSize > 0) s.append("cluster_size: ").append(clusterSize).append('\n');
        if (backingFile != null) {
            s.append("backing file: ").append(backingFile).append('\n');
            if (backingFormat != null) s.append("backing file format: ").append(backingFormat).append('\n');
        }
        if (version > 0) s.append("compat: ").append(version == 2 ? "0.10" : "1.1").append('\n');
        return s.toString();
    }

    /** 1536 -> "1.5 KiB", 1073741824 -> "1 GiB". */
    static String humanSize(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        int u = 0;
        double v = bytes;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        String number = u == 0 ? Long.toString(bytes)
                : String.format(Locale.ROOT, v >= 100 ? "%.0f" : v >= 10 ? "%.1f" : "%.2f", v);
        if (number.contains(".")) number = number.replaceAll("0+$", "").replaceAll("\\.$", "");
        return number + " " + units[u];
    }
}
