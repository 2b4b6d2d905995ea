package dev.visor.vmm;

/** The VM cannot be built as asked (missing file, wrong format, too little memory). The message is one line for a person. */
public final class VmConfigException extends Exception {
    public VmConfigException(String message) { super(message); }
    public VmConfigException(String message, Throwable cause) { super(message, cause); }
}
