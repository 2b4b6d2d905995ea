package dev.visor.daemon.store;

/**
 * An update named a VM that is not in the store (it may have been deleted meanwhile). A distinct
 * type so the API can answer 404; lookups return {@code Optional} instead.
 */
public class NotFoundException extends StoreException {
    public NotFoundException(String message) {
        super(message);
    }
}
