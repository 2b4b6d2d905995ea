# Sourced by ./visor and ./run-tests: finds a Java 25 (or newer) JDK and exports JAVA_HOME and JAVA.
# Order: $JAVA_HOME if it is >= 25; the newest /usr/lib/jvm/* whose `release` file says
# JAVA_VERSION="25" or higher; `java` on PATH if it is >= 25. Otherwise one error line, and
# visor_find_java returns 1. (VISOR_JVM_DIR replaces /usr/lib/jvm, for tests of this script.)

# The feature version (25 of "25.0.3", 8 of "1.8.0") of a JAVA_VERSION string.
visor_java_feature() {
    local v=${1#\"}
    v=${v%\"}
    case $v in
        1.*) v=${v#1.} ;;
    esac
    v=${v%%[!0-9]*}
    echo "${v:-0}"
}

# The feature version of the JDK at $1 (from its release file, else by asking its java).
visor_jdk_feature() {
    local home=$1 line
    if [ -r "$home/release" ]; then
        line=$(grep -m1 '^JAVA_VERSION=' "$home/release" 2>/dev/null) || line=
        if [ -n "$line" ]; then
            visor_java_feature "${line#JAVA_VERSION=}"
            return
        fi
    fi
    if [ -x "$home/bin/java" ]; then
        line=$("$home/bin/java" -XshowSettings:properties -version 2>&1 | grep -m1 'java.specification.version =') || line=
        visor_java_feature "${line##*= }"
        return
    fi
    echo 0
}

visor_find_java() {
    local min=25 best= best_v=0 d v java_path home
    if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ] && [ "$(visor_jdk_feature "$JAVA_HOME")" -ge "$min" ]; then
        best=$JAVA_HOME
    fi
    if [ -z "$best" ]; then
        for d in "${VISOR_JVM_DIR:-/usr/lib/jvm}"/*/; do
            d=${d%/}
            [ -L "$d" ] && continue          # skip aliases such as default-java
            [ -r "$d/release" ] && [ -x "$d/bin/java" ] || continue
            v=$(visor_jdk_feature "$d")
            if [ "$v" -ge "$min" ] && [ "$v" -gt "$best_v" ]; then
                best=$d
                best_v=$v
            fi
        done
    fi
    if [ -z "$best" ] && java_path=$(command -v java 2>/dev/null); then
        java_path=$(readlink -f "$java_path")
        home=${java_path%/bin/java}
        if [ "$(visor_jdk_feature "$home")" -ge "$min" ]; then
            best=$home
        fi
    fi
    if [ -z "$best" ]; then
        echo "visor: Java $min or newer is needed: set JAVA_HOME to a JDK $min (none found in JAVA_HOME, ${VISOR_JVM_DIR:-/usr/lib/jvm} or on PATH)" >&2
        return 1
    fi
    export JAVA_HOME=$best
    export JAVA="$best/bin/java"
}
