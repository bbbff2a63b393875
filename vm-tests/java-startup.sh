#!/bin/bash
# Measures JVM start-up inside the VM (QEMU TCG is slow; these numbers decide
# how many JVM launches a VM test can afford). Prints one line per variant
# with the times of JUBLK_STARTUP_RUNS runs (default 3), in milliseconds.
#
#   vm-tests/run java-startup.sh
#
# With a host-made AppCDS archive (see vm-tests/README.md), also checks that
# the guest can map it:
#   vm-tests/run --out DIR java-startup.sh   # DIR/cds/{hello.jar,app.jsa}
# where hello.jar is this script's jar (Main-Class HelloFfm) and app.jsa was
# made on the host with: java -XX:ArchiveClassesAtExit=DIR/cds/app.jsa -jar DIR/cds/hello.jar
# (and/or an AOT cache: java -XX:AOTCacheOutput=DIR/cds/app.aot -jar DIR/cds/hello.jar)
set -u
runs="${JUBLK_STARTUP_RUNS:-3}"
java="$JAVA_HOME/bin/java"
w=/tmp/java-startup
mkdir -p "$w/src" "$w/classes"
cd "$w" || exit 1
failed=0

ms() { # ms CMD...: run, print elapsed milliseconds (or FAIL)
  local s rc
  s=$(date +%s%N)
  "$@" >"$w/last.out" 2>&1
  rc=$?
  if ((rc)); then echo "FAIL($rc)"; else echo $((($(date +%s%N) - s) / 1000000)); fi
}
measure() { # measure LABEL CMD...: JUBLK_STARTUP_RUNS runs of CMD
  local label="$1" i t times=()
  shift
  for ((i = 0; i < runs; i++)); do
    t="$(ms "$@")"
    [[ "$t" == FAIL* ]] && { failed=1; sed 's/^/    | /' "$w/last.out" | tail -n 5; }
    times+=("$t")
  done
  printf '%-58s %s ms\n' "$label" "${times[*]}"
}

cat >src/Hello.java <<'EOF'
public class Hello {
  public static void main(String[] args) { System.out.println("hello"); }
}
EOF
# Like jublk's start: one FFM downcall (getpid) through the native linker.
cat >src/HelloFfm.java <<'EOF'
import java.lang.foreign.*;
import java.lang.invoke.MethodHandle;
public class HelloFfm {
  public static void main(String[] args) throws Throwable {
    Linker l = Linker.nativeLinker();
    MethodHandle getpid = l.downcallHandle(l.defaultLookup().find("getpid").orElseThrow(),
        FunctionDescriptor.of(ValueLayout.JAVA_INT));
    System.out.println("pid " + (int) getpid.invokeExact());
  }
}
EOF

echo "JDK: $("$java" -version 2>&1 | head -n1), $(nproc) CPUs, TCG"
printf '%-58s %s ms\n' "javac Hello.java HelloFfm.java (once)" "$(ms "$JAVA_HOME/bin/javac" -d classes src/Hello.java src/HelloFfm.java)"
# Main-Class plus Enable-Native-Access in the manifest instead of
# --enable-native-access on the command line: the flag differs from how the
# JDK's own CDS archive was dumped, and the JVM then refuses parts of CDS
# ("Mismatched values for property jdk.module.enable.native.access").
printf 'Main-Class: HelloFfm\nEnable-Native-Access: ALL-UNNAMED\n' >manifest.txt
printf '%-58s %s ms\n' "jar (once)" "$(ms "$JAVA_HOME/bin/jar" cfm hello.jar manifest.txt -C classes .)"

measure "java -version" "$java" -version
measure "java -Xshare:off -version (no CDS at all)" "$java" -Xshare:off -version
measure "java -Xshare:auto -XX:TieredStopAtLevel=1 -version" "$java" -Xshare:auto -XX:TieredStopAtLevel=1 -version
measure "java -cp hello.jar Hello" "$java" -cp hello.jar Hello
measure "java -XX:TieredStopAtLevel=1 -cp hello.jar Hello" "$java" -XX:TieredStopAtLevel=1 -cp hello.jar Hello
measure "java -jar hello.jar (HelloFfm: one FFM downcall)" "$java" -jar hello.jar
measure "  same, -XX:TieredStopAtLevel=1" "$java" -XX:TieredStopAtLevel=1 -jar hello.jar

# AppCDS made in the guest (dynamic archive on top of the JDK's default one).
printf '%-58s %s ms\n' "  dump dynamic archive (HelloFfm, once)" \
  "$(ms "$java" -XX:ArchiveClassesAtExit="$w/app.jsa" -jar hello.jar)"
measure "  HelloFfm with -XX:SharedArchiveFile (guest-made)" "$java" -XX:SharedArchiveFile="$w/app.jsa" -jar hello.jar
measure "  same, -XX:TieredStopAtLevel=1" "$java" -XX:SharedArchiveFile="$w/app.jsa" -XX:TieredStopAtLevel=1 -jar hello.jar

# JDK 25's AOT cache (JEP 483/514): classes loaded and linked ahead of time.
if "$java" -XX:AOTCacheOutput="$w/app.aot" -jar hello.jar >"$w/aot.out" 2>&1; then
  measure "  HelloFfm with -XX:AOTCache (guest-made)" "$java" -XX:AOTCache="$w/app.aot" -jar hello.jar
  measure "  same, -XX:TieredStopAtLevel=1" "$java" -XX:AOTCache="$w/app.aot" -XX:TieredStopAtLevel=1 -jar hello.jar
else
  echo "  (no AOT cache: $(tail -n1 "$w/aot.out"))"
fi

# Archives made on the host, if the host put them in the out share: can the
# guest use them (same JDK, same jar, different path)?
cds="${JUBLK_OUT:-/jublk-out}/cds"
hostcheck() { # hostcheck LABEL OPTION
  local label="$1" opt="$2"
  "$java" "$opt" -Xlog:cds -Xlog:aot -jar "$cds/hello.jar" >"$w/host.out" 2>&1
  if grep -qiE 'Mapped dynamic region|Mapped static +region' "$w/host.out" &&
    ! grep -qiE '\[error\]|mismatch|disabled|unable to (map|use)' "$w/host.out"; then
    echo "$label: mapped"
  else
    echo "$label: NOT usable:"
    grep -iE 'error|mismatch|disabled|unable|validat' "$w/host.out" | head -n 10 | sed 's/^/    | /'
  fi
  measure "  HelloFfm with $label" "$java" "$opt" -jar "$cds/hello.jar"
}
if [[ -f "$cds/hello.jar" ]]; then
  [[ -f "$cds/app.jsa" ]] && hostcheck "host-made CDS archive cds/app.jsa" -XX:SharedArchiveFile="$cds/app.jsa"
  [[ -f "$cds/app.aot" ]] && hostcheck "host-made AOT cache cds/app.aot" -XX:AOTCache="$cds/app.aot"
fi
exit $failed
