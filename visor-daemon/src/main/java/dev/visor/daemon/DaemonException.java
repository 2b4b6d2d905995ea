package dev.visor.daemon;

/**
 * An operation the daemon refused or could not do, with the HTTP status the API answers with and
 * one line saying why (and, for bad input, which field). Nothing was changed when it is thrown.
 */
public final class DaemonException extends Exception {
    private final int status;
    private final String field;

    private DaemonException(int status, String message, String field, Throwable cause) {
        super(message, cause);
        this.status = status;
        this.field = field;
    }

    public int status() { return status; }

    /** The request field at fault (400 only), or null. */
    public String field() { return field; }

    public static DaemonException invalid(String field, String message) { return new DaemonException(400, message, field, null); }

    public static DaemonException forbidden(String message) { return new DaemonException(403, message, null, null); }

    public static DaemonException notFound(String message) { return new DaemonException(404, message, null, null); }

    public static DaemonException conflict(String message) { return new DaemonException(409, message, null, null); }

    public static DaemonException failed(String message, Throwable cause) { return new DaemonException(500, message, null, cause); }
}
