#!/usr/bin/env bash
# Builds hsdis-amd64.so (see hsdis.c) into target/hsdis/. Needs gcc and libcapstone-dev (apt-get install
# gcc libcapstone-dev). Then, for example, to see the code of Hart.execute and where perf samples fall in it:
#   LD_LIBRARY_PATH=target/hsdis VISOR_JAVA_OPTS="-XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit
#     -XX:CompileCommand=print,dev.visor.engine.riscv.Hart::execute -XX:+LogVMOutput -XX:LogFile=asm.log
#     -XX:-DisplayVMOutput" ./visor run ...
#   perf record -p PID; perf script -F comm,ip,sym   (then count sample addresses against asm.log)
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
mkdir -p "$root/target/hsdis"
gcc -O2 -shared -fPIC -o "$root/target/hsdis/hsdis-amd64.so" "$root/scripts/hsdis/hsdis.c" -lcapstone
echo "built $root/target/hsdis/hsdis-amd64.so"
