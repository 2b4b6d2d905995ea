package dev.visor.daemon.monitor;

import java.util.Objects;

/**
 * One temperature sensor of the host, as in the API's Host object: {@code {"sensor":"x86_pkg_temp","celsius":41.0}}.
 *
 * @param sensor  a name unique within one {@link HostInfo}: a thermal zone's {@code type}
 *                (e.g. {@code x86_pkg_temp}), or a hwmon chip's {@code name} and the sensor's label or file
 *                (e.g. {@code coretemp/Core 0}, {@code nvme/temp1})
 * @param celsius degrees Celsius (sysfs gives millidegrees)
 */
public record Temperature(String sensor, double celsius) {
    public Temperature {
        Objects.requireNonNull(sensor, "sensor");
    }
}
