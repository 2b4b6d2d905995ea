package dev.visor.daemon.events;

import java.time.Instant;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * Fans events out to subscribers (the API's server-sent-event streams) and keeps the last few
 * hundred so a client that connects late can ask what happened recently.
 */
public final class EventBus {
    private static final int KEPT = 512;

    private final CopyOnWriteArrayList<Consumer<Event>> subscribers = new CopyOnWriteArrayList<>();
    private final ArrayDeque<Event> recent = new ArrayDeque<>();

    public void publish(String vm, String type, String state, String detail) {
        Event e = new Event(Instant.now(), vm, type, state, detail);
        synchronized (recent) {
            if (recent.size() == KEPT) recent.removeFirst();
            recent.addLast(e);
        }
        for (Consumer<Event> s : subscribers) {
            try {
                s.accept(e);
            } catch (RuntimeException ignored) {
                // a broken subscriber (a closed stream) must not stop the others
            }
        }
    }

    public void subscribe(Consumer<Event> s) { subscribers.add(s); }

    public void unsubscribe(Consumer<Event> s) { subscribers.remove(s); }

    public List<Event> recent() {
        synchronized (recent) {
            return List.copyOf(recent);
        }
    }
}
