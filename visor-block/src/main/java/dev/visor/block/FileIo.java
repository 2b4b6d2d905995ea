package dev.visor.block;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/** Positional reads and writes that loop until done, since a channel may transfer less than asked. */
final class FileIo {
    /** A ByteBuffer view cannot exceed 2 GiB, so larger segments move in pieces of this size. */
    private static final long PIECE = 1L << 30;

    private FileIo() {}

    /** Fills {@code dst} from the file at {@code pos}; bytes past the end of the file read as zeros. */
    static void read(FileChannel ch, long pos, MemorySegment dst) throws IOException {
        for (long at = 0; at < dst.byteSize(); at += PIECE) {
            MemorySegment piece = dst.asSlice(at, Math.min(PIECE, dst.byteSize() - at));
            read(ch, pos + at, piece.asByteBuffer());
        }
    }

    /** Fills the remaining bytes of {@code dst} from the file at {@code pos}; past the end of the file reads zeros. */
    static void read(FileChannel ch, long pos, ByteBuffer dst) throws IOException {
        int start = dst.position();
        while (dst.hasRemaining()) {
            if (ch.read(dst, pos + dst.position() - start) < 0) {
                while (dst.hasRemaining()) dst.put((byte) 0);
            }
        }
    }

    static void write(FileChannel ch, long pos, MemorySegment src) throws IOException {
        for (long at = 0; at < src.byteSize(); at += PIECE) {
            MemorySegment piece = src.asSlice(at, Math.min(PIECE, src.byteSize() - at));
            write(ch, pos + at, piece.asByteBuffer());
        }
    }

    static void write(FileChannel ch, long pos, ByteBuffer src) throws IOException {
        int start = src.position();
        while (src.hasRemaining()) ch.write(src, pos + src.position() - start);
    }

    /** Writes {@code length} zero bytes at {@code pos}, from the shared zero block. */
    static void writeZeros(FileChannel ch, long pos, long length) throws IOException {
        for (long at = 0; at < length; at += Zeros.CHUNK) {
            write(ch, pos + at, Zeros.of(Math.min(Zeros.CHUNK, length - at)));
        }
    }

    /** Reads one big-endian 64-bit value. */
    static long readLong(FileChannel ch, long pos, ByteBuffer scratch8) throws IOException {
        scratch8.clear();
        read(ch, pos, scratch8);
        return scratch8.getLong(0);
    }

    /** Writes one big-endian 64-bit value. */
    static void writeLong(FileChannel ch, long pos, long value, ByteBuffer scratch8) throws IOException {
        scratch8.clear();
        scratch8.putLong(0, value);
        write(ch, pos, scratch8);
    }

    /** Writes one big-endian 32-bit value. */
    static void writeInt(FileChannel ch, long pos, int value, ByteBuffer scratch8) throws IOException {
        scratch8.clear();
        scratch8.putInt(0, value).limit(4);
        write(ch, pos, scratch8);
    }
}
