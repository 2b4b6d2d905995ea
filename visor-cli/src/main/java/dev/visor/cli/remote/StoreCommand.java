package dev.visor.cli.remote;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.visor.cli.CliException;
import dev.visor.cli.remote.DaemonClient.Role;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code visor store}: the disk images in a daemon's image store (the local files are 'visor image'). */
@Command(name = "store",
        mixinStandardHelpOptions = true,
        description = "Manage the disk images in a visor daemon's image store (VMs' --disk names them).",
        synopsisSubcommandLabel = "COMMAND",
        subcommands = {StoreCommand.ListImages.class, StoreCommand.Create.class, StoreCommand.Delete.class},
        footer = {"", "Local image files are handled by 'visor image create|info|convert|resize FILE'."},
        usageHelpAutoWidth = true)
public final class StoreCommand extends RemoteCommand.Group {
    static String imagePath(String name) {
        return DaemonClient.API + "/images/" + DaemonClient.segment(name);
    }

    @Command(name = "list", aliases = "ls", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
            description = "List the images in the store. Role: viewer.")
    static final class ListImages extends RemoteCommand.Formatted {
        @Override
        int run(DaemonClient client) throws CliException {
            JsonNode images = client.get(DaemonClient.API + "/images", Role.VIEWER);
            if (json()) {
                printJson(images);
                return 0;
            }
            Table t = new Table("NAME", "FORMAT", "SIZE", "ON DISK", "BACKING", "LABEL");
            for (JsonNode i : images) {
                t.add(Table.text(i.path("name")), Table.text(i.path("format")), Table.size(i.path("virtualSize")),
                        Table.human(i.path("fileSize")), Table.text(i.path("backing")), Table.text(i.path("label")));
            }
            t.print(out());
            return 0;
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
            description = "Create an empty image in the store (qcow2: optionally over a backing image). Role: admin.")
    static final class Create extends RemoteCommand.Formatted {
        enum ImageFormat { qcow2, raw }

        @Parameters(index = "0", paramLabel = "NAME", description = "Its name in the store, e.g. data.qcow2.")
        String name;

        @Option(names = {"-f", "--format"}, required = true, paramLabel = "qcow2|raw", description = "The image format.")
        ImageFormat format;

        @Option(names = {"-s", "--size"}, paramLabel = "SIZE",
                description = "Its virtual size: 1G, 10G, ... (required unless --backing: then the backing image's by default).")
        String size;

        @Option(names = {"-b", "--backing"}, paramLabel = "NAME", description = "A qcow2 image's backing image (in the store).")
        String backing;

        @Override
        int run(DaemonClient client) throws CliException {
            if (size == null && backing == null) throw bad("--size is required (unless the image has a --backing image)");
            if (backing != null && format != ImageFormat.qcow2) throw bad("--backing goes with --format qcow2");
            ObjectNode body = object().put("name", name).put("format", format.name());
            if (size != null) body.put("size", size.strip());
            if (backing != null) body.put("backing", backing);
            JsonNode image = client.post(DaemonClient.API + "/images", body, Role.ADMIN);
            if (json()) printJson(image);
            else println(name + ": created (" + format.name() + ", "
                    + (image.path("virtualSize").canConvertToLong() ? Table.size(image.path("virtualSize")) : String.valueOf(size)) + ")");
            return 0;
        }
    }

    @Command(name = "delete", aliases = "rm", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
            description = "Delete an image no VM uses. Role: admin.")
    static final class Delete extends RemoteCommand {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Override
        int run(DaemonClient client) throws CliException {
            client.delete(imagePath(name), Role.ADMIN);
            println(name + ": deleted");
            return 0;
        }
    }
}
