package dev.visor.daemon.store;

/**
 * The name (of a VM, token, or a VM's snapshot) is already used. A distinct type so the API can
 * answer 409 without parsing messages.
 */
public class NameTakenException extends StoreException {
    public NameTakenException(String message) {
        super(message);
    }
}
