package dev.visor.daemon.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.visor.daemon.model.RestartPolicy;
import dev.visor.daemon.model.VmDefinition;
import org.junit.jupiter.api.Test;

class DefinitionJsonTest {
    @Test
    void everyFieldRoundTrips() {
        VmDefinition full = StoreFixtures.full("db");
        assertEquals(full, DefinitionJson.read(DefinitionJson.write(full)));
        VmDefinition simple = StoreFixtures.simple("web");
        assertEquals(simple, DefinitionJson.read(DefinitionJson.write(simple)));
    }

    @Test
    void writesTheApiFieldNamesAndRestartPolicyByApiName() {
        String json = DefinitionJson.write(StoreFixtures.full("db"));
        assertTrue(json.contains("\"restart\":\"on-failure\""), json);
        assertTrue(json.contains("\"memoryBytes\":" + ((3L << 30) + 4096)), json);
        assertTrue(json.contains("\"disks\":[{\"image\":\"root.qcow2\",\"readonly\":false}"), json);
        assertTrue(json.contains("\"snapshot\":\"base/s1\""), json);
    }

    @Test
    void unknownFieldsAreIgnoredSoNewerRowsStayReadable() {
        String json = DefinitionJson.write(StoreFixtures.simple("web"));
        String newer = json.substring(0, json.length() - 1) + ",\"tpm\":{\"version\":2}}";
        assertEquals(StoreFixtures.simple("web"), DefinitionJson.read(newer));
    }

    @Test
    void damagedJsonIsRefusedSayingWhat() {
        String good = DefinitionJson.write(StoreFixtures.simple("web"));
        assertMessage("not valid JSON", "{\"name\": \"web\", ");
        assertMessage("not valid JSON", good + " trailing");
        assertMessage("not a JSON object", "[1, 2]");
        assertMessage("not a JSON object", "");
        assertMessage("no 'cpus'", good.replace("\"cpus\":1,", ""));
        assertMessage("'cpus' is not an integer", good.replace("\"cpus\":1", "\"cpus\":\"one\""));
        assertMessage("'cpus' is out of range", good.replace("\"cpus\":1", "\"cpus\":99999999999"));
        assertMessage("'rng' is not true or false", good.replace("\"rng\":true", "\"rng\":1"));
        assertMessage("'restart' must be never, on-failure or always", good.replace("\"never\"", "\"sometimes\""));
        assertMessage("'nets' holds a non-string", good.replace("[\"user\"]", "[1]"));
    }

    @Test
    void incompleteDefinitionsAreRefusedOnWrite() {
        VmDefinition noPolicy = StoreFixtures.simple("web").withRestart(null);
        assertThrows(IllegalArgumentException.class, () -> DefinitionJson.write(noPolicy));
        assertEquals(RestartPolicy.NEVER, DefinitionJson.read(DefinitionJson.write(StoreFixtures.simple("w"))).restart());
    }

    private static void assertMessage(String expected, String json) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DefinitionJson.read(json));
        assertTrue(e.getMessage().contains(expected), "'" + e.getMessage() + "' for " + json);
    }
}
