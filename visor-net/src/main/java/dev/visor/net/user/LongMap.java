package dev.visor.net.user;

import java.util.Arrays;
import java.util.function.Consumer;

/**
 * A small open-addressing hash map from {@code long} keys to values, so that looking up a flow by its
 * packed address tuple allocates nothing. Linear probing, deletion by backward shift. Not thread-safe.
 */
final class LongMap<V> {
    private long[] keys;
    private Object[] values;
    private int size;

    LongMap(int expected) {
        int capacity = Integer.highestOneBit(Math.max(4, expected) * 2 - 1) << 1;
        keys = new long[capacity];
        values = new Object[capacity];
    }

    int size() { return size; }

    @SuppressWarnings("unchecked")
    V get(long key) {
        int mask = keys.length - 1;
        for (int i = slot(key, mask); values[i] != null; i = (i + 1) & mask) {
            if (keys[i] == key) return (V) values[i];
        }
        return null;
    }

    void put(long key, V value) {
        if ((size + 1) * 2 > keys.length) grow();
        int mask = keys.length - 1;
        int i = slot(key, mask);
        for (; values[i] != null; i = (i + 1) & mask) {
            if (keys[i] == key) {
                values[i] = value;
                return;
            }
        }
        keys[i] = key;
        values[i] = value;
        size++;
    }

    void remove(long key) {
        int mask = keys.length - 1;
        int i = slot(key, mask);
        while (values[i] != null && keys[i] != key) i = (i + 1) & mask;
        if (values[i] == null) return;
        values[i] = null;
        size--;
        // Move later entries of the same probe run back into the hole.
        for (int j = (i + 1) & mask; values[j] != null; j = (j + 1) & mask) {
            int home = slot(keys[j], mask);
            boolean between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
            if (!between) {
                keys[i] = keys[j];
                values[i] = values[j];
                values[j] = null;
                i = j;
            }
        }
    }

    /** Calls {@code action} for each value of a snapshot, so the action may remove entries. */
    @SuppressWarnings("unchecked")
    void forEachSnapshot(Consumer<V> action) {
        Object[] copy = Arrays.copyOf(values, values.length);
        for (Object v : copy) if (v != null) action.accept((V) v);
    }

    private void grow() {
        long[] oldKeys = keys;
        Object[] oldValues = values;
        keys = new long[oldKeys.length * 2];
        values = new Object[oldValues.length * 2];
        size = 0;
        for (int i = 0; i < oldKeys.length; i++) {
            if (oldValues[i] != null) put(oldKeys[i], castValue(oldValues[i]));
        }
    }

    @SuppressWarnings("unchecked")
    private V castValue(Object o) { return (V) o; }

    private static int slot(long key, int mask) {
        long h = key * 0x9e3779b97f4a7c15L;
        return (int) (h ^ (h >>> 32)) & mask;
    }
}
