package dev.visor.machine.state;

/** Round trips of one part through the state format: for the round-trip tests of every module and for tools that compare states. */
public final class StateRoundTrip {
    private StateRoundTrip() {}

    /** Saves {@code s} into a record. */
    public static StateRecord save(Stateful s) {
        StateWriter w = new StateWriter(s.stateId(), s.stateVersion());
        s.saveState(w);
        return w.record();
    }

    /** The record's bytes in the file format: equal bytes, equal state. */
    public static byte[] bytes(StateRecord r) {
        StateTree t = new StateTree();
        t.add(r);
        return t.encode();
    }

    /** Saves {@code from}, restores {@code to} from the record through the file format, and returns the record. */
    public static StateRecord copy(Stateful from, Stateful to) throws StateException {
        StateRecord r = save(from);
        to.restoreState(StateTree.decode(bytes(r)).reader(r.id()));
        return r;
    }

    /** Asserts that two parts hold the same state. */
    public static void assertSameState(Stateful a, Stateful b) {
        if (!java.util.Arrays.equals(bytes(save(a)), bytes(save(b)))) {
            throw new AssertionError(a.stateId() + ": the restored state differs from the saved one");
        }
    }
}
