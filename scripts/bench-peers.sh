#!/usr/bin/env bash
# `make bench-peers`: lookoutd's collection throughput side by side with rsyslog
# (imfile) and syslog-ng (wildcard-file), then end-to-end ingest into the index.
#
#  1. Collection: one pre-written kubelet tree (loadgen, CRI, no rotation), read once
#     so every collector reads from the page cache; each collector starts from a
#     clean state and runs until it has consumed every line. Figures are medians of
#     RUNS runs: wall seconds (start to last line), CPU seconds (utime+stime from
#     /proc/<pid>/stat), peak RSS (VmHWM).
#  2. End to end: full lookoutd (index on, default flags, empty data dir) over the
#     same tree until every line is committed (lookout_index_docs on /metrics).
#  3. Sustained rate: lookoutd on an empty tree while loadgen writes at stepped
#     rates (RATES, MiB/s, STEP_SECS each); lag = written - indexed, sampled every
#     second; a step "keeps up" when the lag at its end is under 1.5 s and not
#     growing (a lag of seconds that grows slowly is a rate the index cannot hold).
#
# Knobs (env): MIB (tree size, default 1024), PODS (64), RUNS (3),
# RATES ("5 10 20 30 40"), STEP_SECS (10), QUICK=1 (MIB=48 RUNS=1 RATES="2 5"
# STEP_SECS=4: about a minute), SKIP_BUILD=1, KEEP=1 (keep the work dir),
# BENCH_DIR (work dir parent, default /tmp), ONLY ("collect", "e2e", "ladder").
#
# Peers: syslog-ng-core is installed with apt. rsyslog conflicts with it as a
# package, so it is unpacked (apt-get download + dpkg-deb -x) into
# target/peers/rsyslog and run from there with -M pointing at its module dir; its
# shared libraries are installed with apt. Needs root for apt (skipped when the
# peers are already there). Neither peer parses CRI: they move raw lines, lookoutd
# parses CRI, joins partials, detects levels and attaches pod metadata.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [[ "${QUICK:-0}" == 1 ]]; then
    : "${MIB:=48}" "${RUNS:=1}" "${RATES:=2 5}" "${STEP_SECS:=4}"
fi
MIB=${MIB:-1024}
PODS=${PODS:-64}
RUNS=${RUNS:-3}
RATES=${RATES:-5 10 20 30 40}
STEP_SECS=${STEP_SECS:-10}
ONLY=${ONLY:-collect e2e ladder}
# Mean CRI line of the loadgen samples, for turning MiB into a line count.
BYTES_PER_LINE=165

LOOKOUTD=$ROOT/target/release/lookoutd
LOADGEN=$ROOT/target/release/loadgen
PEERS=$ROOT/target/peers
RSYSLOGD=$PEERS/rsyslog/usr/sbin/rsyslogd
RSYSLOG_MODS=$PEERS/rsyslog/usr/lib/x86_64-linux-gnu/rsyslog
SYSLOGNG=$(command -v syslog-ng || echo /usr/sbin/syslog-ng)

log() { echo "bench-peers: $*" >&2; }
die() { log "$*"; exit 1; }

# ---------------------------------------------------------------- setup
install_peers() {
    local apt=()
    [[ -x $SYSLOGNG ]] || apt+=(syslog-ng-core)
    if [[ ! -x $RSYSLOGD ]]; then
        apt+=(libestr0 libfastjson4 liblognorm5 libzstd1 zlib1g libuuid1)
        mkdir -p "$PEERS/dl"
        (cd "$PEERS/dl" && apt-get download rsyslog >/dev/null 2>&1) ||
            die "apt-get download rsyslog failed"
        rm -rf "$PEERS/rsyslog"
        dpkg-deb -x "$PEERS"/dl/rsyslog_*.deb "$PEERS/rsyslog"
    fi
    if ((${#apt[@]})); then
        log "installing ${apt[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${apt[@]}" >/dev/null ||
            die "apt-get install ${apt[*]} failed (needs root and a Debian/Ubuntu apt)"
    fi
    SYSLOGNG=$(command -v syslog-ng || echo /usr/sbin/syslog-ng)
    if ldd "$RSYSLOGD" | grep -q 'not found'; then
        die "rsyslogd misses libraries: $(ldd "$RSYSLOGD" | grep 'not found' | tr -d '\t')"
    fi
}

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    cargo build --release --bin lookoutd --bin loadgen >&2
fi
install_peers
command -v jq >/dev/null || die "needs jq"
command -v curl >/dev/null || die "needs curl"

WORK=$(mktemp -d "${BENCH_DIR:-/tmp}/lookout-bench-peers.XXXXXX")
CHILD=
cleanup() {
    [[ -n $CHILD ]] && kill "$CHILD" 2>/dev/null && wait "$CHILD" 2>/dev/null
    if [[ "${KEEP:-0}" == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

TREE=$WORK/tree
LINES=$((MIB * 1048576 / BYTES_PER_LINE))
echo "# bench-peers $(date -u +%FT%TZ): $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB," \
    "$(uname -r); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# lookoutd $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $($SYSLOGNG --version | head -1)," \
    "rsyslogd $("$RSYSLOGD" -v | head -1 | awk '{print $2}' | tr -d ,)"
log "writing the tree: $PODS pods, $LINES lines (~$MIB MiB), CRI, no rotation"
WROTE=$("$LOADGEN" --root "$TREE" --rate 0 --pods "$PODS" --lines "$LINES" --rotate-bytes 0 --format cri)
TOTAL_LINES=$(jq -r .lines <<<"$WROTE")
TOTAL_BYTES=$(jq -r .bytes <<<"$WROTE")
TOTAL_MIB=$(awk -v b="$TOTAL_BYTES" 'BEGIN{printf "%.1f", b/1048576}')
echo "# tree: $PODS pods, $TOTAL_LINES lines, $TOTAL_MIB MiB (loadgen: $WROTE)"
warm_cache() { find "$TREE/pods" -type f -exec cat {} + >/dev/null; }

# ---------------------------------------------------------------- measuring
# cpu_of PID: utime+stime in seconds; hwm_of PID: VmHWM in KiB.
CLK=$(getconf CLK_TCK)
cpu_of() { awk -v t="$CLK" '{sub(/.*\) /,""); print ($12+$13)/t}' "/proc/$1/stat" 2>/dev/null; }
hwm_of() { awk '/^VmHWM/{print $2}' "/proc/$1/status" 2>/dev/null; }
now() { date +%s.%N; }

# run_until DONE_FN TIMEOUT CMD...: starts CMD in the background, polls DONE_FN
# every 0.1 s; prints "seconds cpu_s rss_kib status" and kills CMD.
run_until() {
    local done_fn=$1 timeout=$2
    shift 2
    local t0 t cpu=0 hwm=0 c h status=timeout
    t0=$(now)
    "$@" &
    CHILD=$!
    while :; do
        c=$(cpu_of "$CHILD") && [[ -n $c ]] && cpu=$c
        h=$(hwm_of "$CHILD") && [[ -n $h ]] && hwm=$h
        if $done_fn; then status=ok; break; fi
        if ! kill -0 "$CHILD" 2>/dev/null; then status=exited; break; fi
        t=$(now)
        if awk -v a="$t" -v b="$t0" -v m="$timeout" 'BEGIN{exit !(a-b>m)}'; then break; fi
        sleep 0.1
    done
    t=$(now)
    c=$(cpu_of "$CHILD") && [[ -n $c ]] && cpu=$c
    h=$(hwm_of "$CHILD") && [[ -n $h ]] && hwm=$h
    kill "$CHILD" 2>/dev/null || true
    wait "$CHILD" 2>/dev/null || true
    CHILD=
    awk -v a="$t" -v b="$t0" -v c="$cpu" -v h="$hwm" -v s="$status" 'BEGIN{printf "%.3f %.2f %d %s\n", a-b, c, h, s}'
}

RUN_DIR=
done_discard() { [[ "$(tail -n1 "$RUN_DIR/out" 2>/dev/null | jq -r .lines 2>/dev/null)" == "$TOTAL_LINES" ]]; }
done_positions() {
    [[ "$(jq '[.files[].offset] | add' "$RUN_DIR/data/positions.json" 2>/dev/null)" == "$TOTAL_BYTES" ]]
}
done_outfile() { [[ "$(stat -c %s "$RUN_DIR/out" 2>/dev/null)" == "$TOTAL_BYTES" ]]; }

syslog_ng_conf() {
    cat <<EOF
@version: 3.38
# Best throughput found: no syslog parsing (flags(no-parse): the whole line is
# \$MSG), large fetch and window sizes, flow control (nothing dropped), a big
# write batch. monitor-method("poll"): the inotify default takes one inotify
# instance per directory and stalls at fs.inotify.max_user_instances (128) on a
# tree of pods.
options { stats-freq(0); use-dns(no); use-fqdn(no); keep-hostname(yes); chain-hostnames(no); };
source s_pods {
  wildcard-file(base-dir("$TREE/pods") filename-pattern("*.log") recursive(yes)
    monitor-method("poll") follow-freq(0.1) max-files(4096)
    flags(no-parse) log-fetch-limit(1000) log-iw-size(4096000));
};
destination d_out { file("$RUN_DIR/out" template("\${MSG}\n") flush-lines(1000)); };
log { source(s_pods); destination(d_out); flags(flow-control); };
EOF
}

rsyslog_conf() {
    cat <<EOF
# Best throughput found: imfile in inotify mode (one instance, one watch per
# directory; wildcards in directory components), readMode 0 (one line = one
# message), freshStartTail off (read existing content), large submit and dequeue
# batches, a 1 MiB write buffer flushed at the end of each batch, no control
# character escaping (output bytes = input bytes).
global(workDirectory="$RUN_DIR/work" parser.escapeControlCharactersOnReceive="off" maxMessageSize="64k")
main_queue(queue.type="FixedArray" queue.size="200000" queue.dequeueBatchSize="4096" queue.workerThreads="1")
module(load="imfile" mode="inotify")
template(name="raw" type="string" string="%msg%\n")
input(type="imfile" file="$TREE/pods/*/*/*.log" tag="k8s" readMode="0" freshStartTail="off"
      maxSubmitAtOnce="4096" addMetadata="off" persistStateInterval="0")
action(type="omfile" file="$RUN_DIR/out" template="raw" ioBufferSize="1m" flushOnTXEnd="on" asyncWriting="off")
EOF
}

# Each starter execs the collector, so the background job's pid is the collector's.
start_discard() {
    exec "$LOOKOUTD" --discard --log-dir "$TREE" --data-dir "$RUN_DIR/data" --read-from beginning >"$RUN_DIR/out"
}
start_stdout_null() {
    exec "$LOOKOUTD" --stdout --log-dir "$TREE" --data-dir "$RUN_DIR/data" --read-from beginning >/dev/null
}
start_stdout_file() {
    exec "$LOOKOUTD" --stdout --log-dir "$TREE" --data-dir "$RUN_DIR/data" --read-from beginning >"$RUN_DIR/out"
}
start_syslog_ng() {
    exec "$SYSLOGNG" -F --no-caps -f "$RUN_DIR/conf" -R "$RUN_DIR/persist" -p "$RUN_DIR/pid" \
        -c "$RUN_DIR/ctl" >"$RUN_DIR/log" 2>&1
}
start_rsyslog() {
    exec "$RSYSLOGD" -n -f "$RUN_DIR/conf" -i "$RUN_DIR/pid" -M "$RSYSLOG_MODS" >"$RUN_DIR/log" 2>&1
}

# tool|config|completion check|starter
CONFIGS=(
    "lookoutd|collect+parse, --discard|done_discard|start_discard"
    "lookoutd|--stdout > /dev/null|done_positions|start_stdout_null"
    "lookoutd|--stdout > file|done_positions|start_stdout_file"
    "syslog-ng|wildcard-file poll > file|done_outfile|start_syslog_ng"
    "rsyslog|imfile inotify > file|done_outfile|start_rsyslog"
)

median() { sort -g | awk '{a[NR]=$1} END{if(NR==0){print "nan"} else if(NR%2){print a[(NR+1)/2]} else {print (a[NR/2]+a[NR/2+1])/2}}'; }

collect_bench() {
    local timeout
    timeout=$(awk -v m="$TOTAL_MIB" 'BEGIN{t=m/2; print (t<60?60:t)}')
    local rows=() ref_mibs=
    for cfg in "${CONFIGS[@]}"; do
        IFS='|' read -r name desc done_fn start <<<"$cfg"
        local secs=() cpus=() rsss=() bad=
        for ((r = 1; r <= RUNS; r++)); do
            RUN_DIR=$WORK/run
            rm -rf "$RUN_DIR" && mkdir -p "$RUN_DIR/data" "$RUN_DIR/work"
            case $name in
                syslog-ng) syslog_ng_conf >"$RUN_DIR/conf" ;;
                rsyslog) rsyslog_conf >"$RUN_DIR/conf" ;;
            esac
            warm_cache
            local res
            res=$(run_until "$done_fn" "$timeout" "$start")
            read -r s c h st <<<"$res"
            # Completeness: lines delivered.
            local got=?
            case $done_fn in
                done_discard) got=$(tail -n1 "$RUN_DIR/out" | jq -r .lines) ;;
                done_outfile) got=$(wc -l <"$RUN_DIR/out") ;;
                done_positions) [[ $st == ok ]] && got=$TOTAL_LINES ;;
            esac
            [[ $desc == "--stdout > file" ]] && got=$(wc -l <"$RUN_DIR/out")
            log "$name ($desc) run $r: ${s}s cpu ${c}s rss ${h}KiB $st, lines $got/$TOTAL_LINES"
            [[ $st == ok && $got == "$TOTAL_LINES" ]] || bad="$st, lines $got"
            secs+=("$s") cpus+=("$c") rsss+=("$h")
        done
        local ms mc mh
        ms=$(printf '%s\n' "${secs[@]}" | median)
        mc=$(printf '%s\n' "${cpus[@]}" | median)
        mh=$(printf '%s\n' "${rsss[@]}" | median)
        local mibs
        mibs=$(awk -v b="$TOTAL_BYTES" -v s="$ms" 'BEGIN{printf "%.1f", b/1048576/s}')
        [[ -z $ref_mibs ]] && ref_mibs=$mibs
        rows+=("$(awk -v n="$name" -v d="$desc" -v l="$TOTAL_LINES" -v m="$TOTAL_MIB" -v s="$ms" -v c="$mc" \
            -v h="$mh" -v ref="$ref_mibs" -v mibs="$mibs" -v bad="$bad" 'BEGIN{
                note = bad == "" ? "" : " (INCOMPLETE: " bad ")";
                printf "| %s | %s%s | %d | %s | %.2f | %.1f | %.0f | %.2f | %.2f | %.0f MiB | %.2f |\n",
                    n, d, note, l, m, s, mibs, l/s, c, c/s, h/1024, (mibs>0 ? ref/mibs : 0) }')")
    done
    echo
    echo "## Collection throughput (median of $RUNS runs; output discarded or written; page-cached input)"
    echo
    echo "| tool | config | lines | MiB | seconds | MiB/s | lines/s | CPU s | cores used | peak RSS | lookoutd --discard / tool |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
    echo
    echo "Neither peer parses CRI: syslog-ng and rsyslog move each raw line (timestamp, stream and"
    echo "tag included) to the output. lookoutd parses CRI, joins P/F partials, detects the level,"
    echo "attaches namespace/pod/container from the path, and (with --stdout) serialises JSON."
    echo
    echo "### syslog-ng $($SYSLOGNG --version | head -1 | awk '{print $3}' | tr -d '()') configuration"
    echo '```'
    RUN_DIR='<run>' syslog_ng_conf
    echo '```'
    echo "Run as: syslog-ng -F --no-caps -f CONF -R PERSIST -p PID -c CTL"
    echo
    echo "### rsyslog configuration"
    echo '```'
    RUN_DIR='<run>' rsyslog_conf
    echo '```'
    echo "Run as: rsyslogd -n -f CONF -i PID -M $RSYSLOG_MODS"
}

# ---------------------------------------------------------------- end to end
PORT=$((20000 + RANDOM % 20000))
metric() { curl -s --max-time 1 "http://127.0.0.1:$((PORT + 1))/metrics" | awk -v n="$1" '$1==n{printf "%d\n", $2}'; }
done_index() { [[ "$(metric lookout_index_docs)" == "$TOTAL_LINES" ]]; }
lookoutd_full() {
    exec "$LOOKOUTD" --log-dir "$1" --data-dir "$RUN_DIR/data" --read-from beginning \
        --listen "127.0.0.1:$PORT" --metrics-listen "127.0.0.1:$((PORT + 1))" >"$RUN_DIR/log" 2>&1
}

e2e_bench() {
    local timeout
    timeout=$(awk -v m="$TOTAL_MIB" 'BEGIN{t=m; print (t<120?120:t)}')
    RUN_DIR=$WORK/e2e
    local secs=() cpus=() rsss=() bad=
    for ((r = 1; r <= RUNS; r++)); do
        rm -rf "$RUN_DIR" && mkdir -p "$RUN_DIR/data"
        warm_cache
        local res
        res=$(run_until done_index "$timeout" lookoutd_full "$TREE")
        read -r s c h st <<<"$res"
        local docs
        log "e2e run $r: ${s}s cpu ${c}s rss ${h}KiB $st"
        [[ $st == ok ]] || bad="$st"
        secs+=("$s") cpus+=("$c") rsss+=("$h")
    done
    local ms mc mh
    ms=$(printf '%s\n' "${secs[@]}" | median)
    mc=$(printf '%s\n' "${cpus[@]}" | median)
    mh=$(printf '%s\n' "${rsss[@]}" | median)
    echo
    echo "## End to end into the index (median of $RUNS runs; full lookoutd, default flags, empty data dir)"
    echo
    echo "| lines | MiB | seconds to all committed | MiB/s | lines/s | CPU s | cores used | peak RSS | complete |"
    echo "|---|---|---|---|---|---|---|---|---|"
    awk -v l="$TOTAL_LINES" -v m="$TOTAL_MIB" -v s="$ms" -v c="$mc" -v h="$mh" -v bad="$bad" 'BEGIN{
        printf "| %d | %s | %.2f | %.1f | %.0f | %.2f | %.2f | %.0f MiB | %s |\n",
            l, m, s, m/s, l/s, c, c/s, h/1024, (bad==""?"yes: lookout_index_docs = lines written":"NO: " bad) }'
}

# ---------------------------------------------------------------- sustained rate
ladder_bench() {
    RUN_DIR=$WORK/ladder
    rm -rf "$RUN_DIR" && mkdir -p "$RUN_DIR/data" "$RUN_DIR/tree"
    local bpl
    bpl=$(awk -v b="$TOTAL_BYTES" -v l="$TOTAL_LINES" 'BEGIN{print b/l}')
    (lookoutd_full "$RUN_DIR/tree") &
    CHILD=$!
    local i
    for ((i = 0; i < 100; i++)); do
        [[ -n "$(metric lookout_index_docs)" ]] && break
        sleep 0.1
    done
    echo
    echo "## Sustained ingest into the index (lookoutd while loadgen writes $PODS pods at stepped rates)"
    echo
    echo "Lag = lines on disk (bytes on disk / mean line size) - lookout_index_docs, sampled every"
    echo "second, in seconds of input at the step's rate. A step keeps up when the lag at its end is"
    echo "under 1.5 s (one commit interval plus sampling) and not above its mid-step value; after each step the index must drain"
    echo "to the exact count loadgen wrote. No rotation in this ladder (sizes on disk only grow)."
    echo "loadgen shares the machine's cores with lookoutd: 'written MiB/s' is what it achieved."
    echo
    echo "| target MiB/s | written MiB/s | lines/s | lag mid (s) | lag end (s) | max lag (s) | drained in | cores used | RSS | verdict |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    local written=0 best=none
    for rate in $RATES; do
        local lps
        lps=$(awk -v r="$rate" -v b="$bpl" 'BEGIN{printf "%.0f", r*1048576/b}')
        local cpu0 t0
        cpu0=$(cpu_of "$CHILD")
        t0=$(now)
        "$LOADGEN" --root "$RUN_DIR/tree" --rate "$lps" --pods "$PODS" --seconds "$STEP_SECS" \
            --rotate-bytes 0 --format cri >"$RUN_DIR/step.json" &
        local gen=$! lags=()
        while kill -0 "$gen" 2>/dev/null; do
            sleep 1
            local docs on_disk
            docs=$(metric lookout_index_docs)
            on_disk=$(find "$RUN_DIR/tree/pods" -name '*.log' -printf '%s\n' | awk '{s+=$1} END{print s+0}')
            lags+=("$(awk -v b="$on_disk" -v bpl="$bpl" -v r="$lps" -v d="${docs:-0}" 'BEGIN{
                printf "%.2f", (b/bpl - d)/r }')")
        done
        wait "$gen"
        local step_lines step_secs
        step_lines=$(jq -r .lines "$RUN_DIR/step.json")
        step_secs=$(jq -r .seconds "$RUN_DIR/step.json")
        written=$((written + step_lines))
        local cpu1 t1 hwm
        cpu1=$(cpu_of "$CHILD")
        t1=$(now)
        hwm=$(awk '/^VmRSS/{print $2}' "/proc/$CHILD/status")
        # Drain: the index must reach exactly what was written.
        local drained=never d0
        d0=$(now)
        for ((i = 0; i < 300; i++)); do
            if [[ "$(metric lookout_index_docs)" == "$written" ]]; then
                drained=$(awk -v a="$(now)" -v b="$d0" 'BEGIN{printf "%.1f s", a-b}')
                break
            fi
            sleep 0.1
        done
        local n=${#lags[@]} mid end max
        mid=${lags[$((n / 2))]:-nan}
        end=${lags[$((n - 1))]:-nan}
        max=$(printf '%s\n' "${lags[@]}" | sort -g | tail -n1)
        local verdict
        verdict=$(awk -v m="$mid" -v e="$end" -v d="$drained" -v l="$step_lines" -v s="$step_secs" \
            -v b="$bpl" -v r="$rate" 'BEGIN{
            if (d=="never") print "NOT DRAINED";
            else if (l*b/1048576/s < 0.9*r) print "loadgen short of target";
            else if (e<1.5 && e<=m+0.25) print "keeps up"; else print "lag grows" }')
        [[ $verdict == "keeps up" ]] && best=$rate
        awk -v r="$rate" -v l="$step_lines" -v s="$step_secs" -v b="$bpl" -v mid="$mid" -v e="$end" \
            -v mx="$max" -v d="$drained" -v c0="$cpu0" -v c1="$cpu1" -v t0="$t0" -v t1="$t1" -v h="$hwm" \
            -v v="$verdict" 'BEGIN{
            printf "| %s | %.1f | %.0f | %s | %s | %s | %s | %.2f | %.0f MiB | %s |\n",
                r, l*b/1048576/s, l/s, mid, e, mx, d, (c1-c0)/(t1-t0), h/1024, v }'
        [[ $drained == never ]] && break
    done
    kill "$CHILD" 2>/dev/null || true
    wait "$CHILD" 2>/dev/null || true
    CHILD=
    echo
    echo "Highest step that kept up: $best MiB/s (steps: $RATES; $STEP_SECS s each)."
}

for part in $ONLY; do
    case $part in
        collect) collect_bench ;;
        e2e) e2e_bench ;;
        ladder) ladder_bench ;;
        *) die "unknown part $part (collect, e2e, ladder)" ;;
    esac
done
