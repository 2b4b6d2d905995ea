package dev.visor.daemon.api;

import dev.visor.daemon.events.Event;
import dev.visor.daemon.images.ImageStore;
import dev.visor.daemon.model.AuditEntry;
import dev.visor.daemon.model.DiskRef;
import dev.visor.daemon.model.SnapshotInfo;
import dev.visor.daemon.model.TokenInfo;
import dev.visor.daemon.model.VmRecord;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The API's JSON objects (see the OpenAPI document), built as ordered maps so field order is stable. */
final class Views {
    private Views() {}

    static Map<String, Object> vm(VmRecord r) {
        var d = r.definition();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", d.name());
        m.put("id", r.id());
        m.put("state", r.state().apiName());
        m.put("cpus", d.cpus());
        m.put("memoryBytes", d.memoryBytes());
        List<Map<String, Object>> disks = new ArrayList<>();
        for (DiskRef disk : d.disks()) {
            Map<String, Object> dm = new LinkedHashMap<>();
            dm.put("image", disk.image());
            dm.put("readonly", disk.readonly());
            disks.add(dm);
        }
        m.put("disks", disks);
        m.put("nets", d.nets());
        m.put("rng", d.rng());
        m.put("balloon", d.balloon());
        m.put("append", d.append());
        m.put("autostart", d.autostart());
        m.put("restart", d.restart().apiName());
        m.put("snapshot", d.snapshot());
        m.put("label", r.label());
        m.put("pid", r.pid() > 0 ? r.pid() : null);
        m.put("exitCode", r.exitCode());
        m.put("lastError", r.lastError());
        m.put("restarts", r.restarts());
        m.put("created", time(r.created()));
        m.put("startedAt", time(r.startedAt()));
        return m;
    }

    static Map<String, Object> image(ImageStore.Image i) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", i.name());
        m.put("format", i.format());
        m.put("virtualSize", i.virtualSize());
        m.put("fileSize", i.fileSize());
        m.put("backing", i.backing());
        m.put("label", i.label());
        return m;
    }

    static Map<String, Object> snapshot(SnapshotInfo s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("vm", s.vm());
        m.put("name", s.name());
        m.put("path", s.path());
        m.put("ramBytes", s.ramBytes());
        m.put("created", time(s.created()));
        return m;
    }

    static Map<String, Object> event(Event e) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("time", time(e.time()));
        m.put("vm", e.vm());
        m.put("type", e.type());
        m.put("state", e.state());
        m.put("detail", e.detail());
        return m;
    }

    static Map<String, Object> token(TokenInfo t) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", t.name());
        m.put("role", t.role().apiName());
        m.put("created", time(t.created()));
        return m;
    }

    static Map<String, Object> audit(AuditEntry a) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", a.id());
        m.put("time", time(a.time()));
        m.put("who", a.who());
        m.put("method", a.method());
        m.put("path", a.path());
        m.put("status", a.status());
        m.put("remote", a.remote());
        return m;
    }

    static Map<String, Object> error(String message, String field) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("error", message);
        if (field != null) m.put("field", field);
        return m;
    }

    static String time(Instant t) { return t == null ? null : t.toString(); }
}
