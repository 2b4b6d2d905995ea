package dev.visor.images;

import org.apache.commons.compress.archivers.cpio.CpioArchiveEntry;
import org.apache.commons.compress.archivers.cpio.CpioArchiveInputStream;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.GZIPInputStream;

/** Reads archives back with Commons Compress, an implementation independent of ours. */
final class TestArchives {
    private TestArchives() {}

    /** One cpio entry as read back. */
    record Entry(long mode, byte[] content, long rdevMajor, long rdevMinor, long mtime, long inode) {}

    static Map<String, Entry> readCpio(byte[] cpio) throws IOException {
        return readCpio(new ByteArrayInputStream(cpio));
    }

    static Map<String, Entry> readGzipCpio(byte[] gz) throws IOException {
        return readCpio(new GZIPInputStream(new ByteArrayInputStream(gz)));
    }

    static Map<String, Entry> readCpio(InputStream in) throws IOException {
        Map<String, Entry> entries = new LinkedHashMap<>();
        try (CpioArchiveInputStream cpio = new CpioArchiveInputStream(in)) {
            CpioArchiveEntry e;
            while ((e = cpio.getNextEntry()) != null) {
                entries.put(e.getName(), new Entry(e.getMode(), cpio.readAllBytes(),
                        e.getRemoteDeviceMaj(), e.getRemoteDeviceMin(), e.getTime(), e.getInode()));
            }
        }
        return entries;
    }
}
