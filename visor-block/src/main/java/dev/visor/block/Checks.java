package dev.visor.block;

/** Argument checks shared by the image formats, so that every format words its refusals the same way. */
final class Checks {
    private Checks() {}

    /** Refuses a range that does not lie inside [0, size). */
    static void checkRange(String name, long size, long offset, long length) throws BlockException {
        if (offset < 0 || length < 0 || offset > size - length) {
            throw new BlockException(name + ": request at offset " + offset + " of " + length
                    + " bytes does not fit in the disk (" + size + " bytes)");
        }
    }

    /** Refuses a new virtual size that is not a multiple of 512 or that would shrink the disk. */
    static void checkNewSize(String name, long oldSize, long newSize) throws BlockException {
        if (newSize < 0 || newSize % 512 != 0) {
            throw new BlockException(name + ": new size " + newSize + " is not a multiple of 512 bytes");
        }
        if (newSize < oldSize) {
            throw new BlockException(name + ": shrinking from " + oldSize + " to " + newSize
                    + " bytes is not supported (it would cut off data)");
        }
    }
}
