package dev.visor.daemon.store;

import static dev.visor.daemon.store.StoreFixtures.full;
import static dev.visor.daemon.store.StoreFixtures.simple;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.visor.daemon.model.DiskRef;
import dev.visor.daemon.model.RestartPolicy;
import dev.visor.daemon.model.VmDefinition;
import dev.visor.daemon.model.VmRecord;
import dev.visor.daemon.model.VmState;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VmStoreTest {
    @TempDir
    Path dir;
    Path file;
    Database db;
    VmStore vms;

    @BeforeEach
    void open() throws StoreException {
        file = dir.resolve("visor.db");
        db = Database.open(file);
        vms = new VmStore(db);
    }

    @AfterEach
    void close() {
        db.close();
    }

    @Test
    void defineAssignsIdLabelStoppedAndCreatedNow() throws Exception {
        Instant before = Instant.now();
        VmRecord r = vms.define(simple("web1"));
        assertTrue(r.id() > 0);
        assertEquals("visor-vm-" + r.id(), r.label());
        assertEquals(VmState.STOPPED, r.state());
        assertEquals(0, r.pid());
        assertNull(r.pidStart());
        assertNull(r.exitCode());
        assertNull(r.lastError());
        assertEquals(0, r.restarts());
        assertNull(r.startedAt());
        assertFalse(r.created().isBefore(before));
        assertFalse(r.created().isAfter(Instant.now()));
        assertEquals(Optional.of(r), vms.find("web1"));
    }

    @Test
    void everyFieldRoundTripsThroughTheFile() throws Exception {
        VmRecord fresh = vms.define(full("db-1"));
        Instant pidStart = Instant.parse("2026-11-28T10:00:05.123456789Z");
        Instant startedAt = Instant.parse("2026-11-28T10:00:05.5Z");
        vms.setExited("db-1", VmState.CRASHED, 137, "killed by signal 9 — \"oom\"");
        vms.setProcess("db-1", VmState.RUNNING, 4242, pidStart, startedAt);
        VmRecord expected = vms.setRestarts("db-1", 7);
        // every field set, none at its default
        assertEquals(new VmRecord(fresh.id(), full("db-1"), "visor-vm-" + fresh.id(), VmState.RUNNING, 4242, pidStart,
                137, "killed by signal 9 — \"oom\"", 7, fresh.created(), startedAt), expected);
        VmRecord plain = vms.define(simple("plain"));

        db.close();
        db = Database.open(file);
        vms = new VmStore(db);
        assertEquals(Optional.of(expected), vms.find("db-1"));
        assertEquals(Optional.of(plain), vms.find("plain"), "nulls and defaults come back as such");
        assertEquals(List.of(expected, plain), vms.list());
    }

    @Test
    void duplicateNameIsRefusedAndTheFirstKept() throws Exception {
        VmRecord first = vms.define(simple("web1"));
        NameTakenException e = assertThrows(NameTakenException.class, () -> vms.define(full("web1")));
        assertTrue(e.getMessage().contains("'web1'"), e.getMessage());
        assertEquals(List.of(first), vms.list());
    }

    @Test
    void idsAreNeverReused() throws Exception {
        vms.define(simple("a"));
        VmRecord b = vms.define(simple("b"));
        assertTrue(vms.delete("b"));
        VmRecord c = vms.define(simple("b"));
        assertTrue(c.id() > b.id(), c.id() + " after " + b.id());
        assertEquals("visor-vm-" + c.id(), c.label());
    }

    @Test
    void listIsByName() throws Exception {
        for (String n : List.of("m", "a", "z", "b10", "b2")) vms.define(simple(n));
        assertEquals(List.of("a", "b10", "b2", "m", "z"), vms.list().stream().map(VmRecord::name).toList());
    }

    @Test
    void updateDefinitionKeepsEverythingElseAndRefusesRenames() throws Exception {
        vms.define(simple("web1"));
        VmRecord running = vms.setProcess("web1", VmState.RUNNING, 99, Instant.EPOCH, Instant.EPOCH);
        VmDefinition changed = simple("web1").withAutostart(true).withRestart(RestartPolicy.ALWAYS)
                .withDisks(List.of(new DiskRef("x.qcow2", false)));
        VmRecord updated = vms.updateDefinition("web1", changed);
        assertEquals(changed, updated.definition());
        assertEquals(running.state(), updated.state());
        assertEquals(running.pid(), updated.pid());
        assertEquals(running.id(), updated.id());
        assertEquals(Optional.of(updated), vms.find("web1"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> vms.updateDefinition("web1", simple("web2")));
        assertTrue(e.getMessage().contains("renamed"), e.getMessage());
    }

    @Test
    void processLifecycleSettersKeepPidCoherent() throws Exception {
        vms.define(simple("v"));
        VmRecord starting = vms.setProcess("v", VmState.STARTING, 10, Instant.EPOCH, Instant.EPOCH);
        assertEquals(10, starting.pid());
        assertEquals(VmState.PAUSED, vms.setState("v", VmState.PAUSED).state());
        assertEquals("boom", vms.setLastError("v", "boom").lastError());
        VmRecord exited = vms.setExited("v", VmState.STOPPED, 0, null);
        assertEquals(0, exited.pid());
        assertNull(exited.pidStart());
        assertEquals(0, exited.exitCode());
        assertNull(exited.lastError());
        assertEquals(Instant.EPOCH, exited.startedAt(), "the last start time stays");
        assertEquals(Optional.of(exited), vms.find("v"));

        assertThrows(IllegalArgumentException.class, () -> vms.setProcess("v", VmState.STOPPED, 10, null, null));
        assertThrows(IllegalArgumentException.class, () -> vms.setProcess("v", VmState.RUNNING, 0, null, null));
        assertThrows(IllegalArgumentException.class, () -> vms.setExited("v", VmState.RUNNING, 1, null));
        assertThrows(IllegalArgumentException.class, () -> vms.setRestarts("v", -1));
        assertEquals(Optional.of(exited), vms.find("v"), "refused calls change nothing");
    }

    @Test
    void unknownVmIsNotFound() throws Exception {
        assertEquals(Optional.empty(), vms.find("ghost"));
        assertFalse(vms.delete("ghost"));
        NotFoundException e = assertThrows(NotFoundException.class, () -> vms.setState("ghost", VmState.RUNNING));
        assertTrue(e.getMessage().contains("'ghost'"), e.getMessage());
        assertThrows(NotFoundException.class, () -> vms.setRestarts("ghost", 1));
        assertThrows(NotFoundException.class, () -> vms.updateDefinition("ghost", simple("ghost")));
    }

    @Test
    void deleteRemovesOnlyThatVm() throws Exception {
        vms.define(simple("a"));
        vms.define(simple("b"));
        assertTrue(vms.delete("a"));
        assertFalse(vms.delete("a"));
        assertEquals(List.of("b"), vms.list().stream().map(VmRecord::name).toList());
    }

    @Test
    void findsTheVmUsingAnImageOrSnapshot() throws Exception {
        vms.define(full("db"));                       // root.qcow2, data "ü".raw; clone of base/s1
        vms.define(simple("web").withDisks(List.of(new DiskRef("web.qcow2", false))));
        assertEquals(Optional.of("db"), vms.vmUsingImage("data \"ü\".raw"));
        assertEquals(Optional.of("web"), vms.vmUsingImage("web.qcow2"));
        assertEquals(Optional.empty(), vms.vmUsingImage("free.qcow2"));
        assertEquals(Optional.of("db"), vms.vmUsingSnapshot("base", "s1"));
        assertEquals(Optional.empty(), vms.vmUsingSnapshot("base", "s2"));
    }

    @Test
    void concurrentDefinesFromEightThreadsAllSucceedWithDistinctIds() throws Exception {
        int threads = 8;
        int each = 25;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<List<VmRecord>>> results = new ArrayList<>();
        try {
            for (int t = 0; t < threads; t++) {
                int thread = t;
                results.add(pool.submit(() -> {
                    go.await();
                    List<VmRecord> mine = new ArrayList<>();
                    for (int i = 0; i < each; i++) {
                        mine.add(vms.define(simple("t" + thread + "-" + i)));
                        vms.find("t" + thread + "-" + i).orElseThrow(); // reads interleaved with writes
                    }
                    return mine;
                }));
            }
            go.countDown();
            Set<Long> ids = new HashSet<>();
            Set<String> labels = new HashSet<>();
            for (Future<List<VmRecord>> f : results) {
                for (VmRecord r : f.get(60, TimeUnit.SECONDS)) {
                    assertTrue(ids.add(r.id()), "id " + r.id() + " given twice");
                    assertTrue(labels.add(r.label()));
                }
            }
            assertEquals(threads * each, ids.size());
            assertEquals(threads * each, vms.list().size());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void concurrentDefinesOfOneNameLetExactlyOneWin() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<Boolean>> results = new ArrayList<>();
        try {
            for (int t = 0; t < 8; t++) {
                results.add(pool.submit(() -> {
                    go.await();
                    try {
                        vms.define(simple("same"));
                        return true;
                    } catch (NameTakenException e) {
                        return false;
                    }
                }));
            }
            go.countDown();
            int wins = 0;
            for (Future<Boolean> f : results) if (f.get(60, TimeUnit.SECONDS)) wins++;
            assertEquals(1, wins);
            assertEquals(1, vms.list().size());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void unreadableRowIsSkippedByListReportedOnceAndNamedByFind() throws Exception {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        vms = new VmStore(db, new PrintStream(err, true, StandardCharsets.UTF_8));
        vms.define(simple("a"));
        vms.define(full("b"));
        vms.define(simple("c"));
        try (Connection c = StoreFixtures.plainJdbc(file);
             PreparedStatement upd = c.prepareStatement("UPDATE vms SET definition = ? WHERE name = ?")) {
            upd.setString(1, "{\"name\": \"b\", \"cpus\": ");
            upd.setString(2, "b");
            assertEquals(1, upd.executeUpdate());
        }
        assertEquals(List.of("a", "c"), vms.list().stream().map(VmRecord::name).toList());
        assertEquals(List.of("a", "c"), vms.list().stream().map(VmRecord::name).toList());
        String report = err.toString(StandardCharsets.UTF_8);
        assertTrue(report.contains("skipping VM 'b'"), report);
        assertEquals(1, report.lines().count(), "reported once: " + report);

        StoreException e = assertThrows(StoreException.class, () -> vms.find("b"));
        assertFalse(e instanceof NotFoundException);
        assertTrue(e.getMessage().contains("VM 'b' is stored but cannot be read"), e.getMessage());
        assertThrows(NameTakenException.class, () -> vms.define(simple("b")));
        assertTrue(vms.delete("b"), "a damaged VM can still be deleted");
        assertNotNull(vms.define(simple("b")));
        assertEquals(3, vms.list().size());
    }

    @Test
    void unknownStateIsSkippedLikeDamagedJson() throws Exception {
        vms = new VmStore(db, new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        vms.define(simple("a"));
        vms.define(simple("b"));
        try (Connection c = StoreFixtures.plainJdbc(file);
             PreparedStatement upd = c.prepareStatement("UPDATE vms SET state = 'MIGRATING' WHERE name = 'a'")) {
            upd.executeUpdate();
        }
        assertEquals(List.of("b"), vms.list().stream().map(VmRecord::name).toList());
    }
}
