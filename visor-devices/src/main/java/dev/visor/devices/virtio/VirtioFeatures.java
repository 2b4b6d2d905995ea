package dev.visor.devices.virtio;

/** Feature bits the transport itself offers (virtio 1.2 §6), common to every device. */
public final class VirtioFeatures {
    private VirtioFeatures() {}

    public static final long RING_INDIRECT_DESC = 1L << 28;
    public static final long RING_EVENT_IDX = 1L << 29;
    public static final long VERSION_1 = 1L << 32;

    /** What every device here offers on top of its own bits. */
    public static final long TRANSPORT = RING_INDIRECT_DESC | RING_EVENT_IDX | VERSION_1;
}
