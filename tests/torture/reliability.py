"""The README's reliability tables: made from the summary that
`make torture` writes (torture.py: kills, and with --faults the disk and
network fault matrices) and from the one `make fuzz` writes
(scripts/fuzz.sh: executions per target), each written whole (header
and rows) between `<!-- reliability:<section> -->` and
`<!-- /reliability:<section> -->`, outside any table, so each source owns
its table.

    reliability.py SUMMARY.json README.md          torture (and faults) tables
    reliability.py --fuzz FUZZ.json README.md      the fuzzing table
"""
import json
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
HEADER = ["| tried | how many | checked after each | lost |", "| --- | --- | --- | --- |"]
HOSTILE_HEADER = ["| service: attack | connections or requests | a well-behaved client meanwhile "
                  "| lost |", "| --- | --- | --- | --- |"]
FUZZ_HEADER = ["| fuzz target (libFuzzer, ASan + UBSan) | executions | result | lost |",
               "| --- | --- | --- | --- |"]


def fuzz_what(target):
    """The first sentence of tests/fuzz/fuzz_<target>.c's leading comment."""
    path = os.path.join(ROOT, "tests", "fuzz", "fuzz_%s.c" % target)
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return ""
    m = re.match(r"\s*/\*(.*?)\*/", text, re.S)
    if not m:
        return ""
    words = " ".join(line.strip(" *") for line in m.group(1).splitlines()).split()
    sentence = " ".join(words)
    cut = re.search(r"[.:](\s|$)", sentence)
    return (sentence[:cut.start()] if cut else sentence).replace("|", "\\|")


def fuzz_rows(summary):
    """Markdown rows of a scripts/fuzz.sh summary, one per target."""
    rows = []
    for t, r in sorted(summary["targets"].items()):
        rows.append("| `%s`: %s | %s in %d s | %s; corpus %d seeds, %d after | %d |"
                    % (t, fuzz_what(t), format(r["execs"], ","), summary["seconds"],
                       "no crash, leak or hang" if r["ok"] else "FAILED",
                       r["seeds"], r["corpus"], 0 if r["ok"] else 1))
    return rows


def torture_rows(summary):
    """Markdown table rows (no header) of a torture.py summary."""
    rows = []
    for name, s in summary["programs"].items():
        extra = []
        if s.get("kills_mid_sync") or s.get("kills_mid_job"):
            extra.append("%d mid-sync, %d mid-job, each restarted"
                         % (s.get("kills_mid_sync", 0), s.get("kills_mid_job", 0)))
        extra.append("%d stale locks and %d stale sentinels recovered, %d temp files swept"
                     % (s["locks_recovered"], s["sentinels_recovered"], s["temp_files_swept"]))
        extra.append("%d chain(s) completed" % s["rounds"])
        # The daemon's sync also saves on a yield or a SIGTERM, anywhere:
        # only its monotony is checked there.
        cursor = "never goes back" if "walletd" in name else "is one it saved and never goes back"
        rows.append("| SIGKILL of `%s` at random moments (%s leaves, %d paid, K = %d, %d ms "
                    "per request) | %d kills | the wallet parses, its cursor %s, its notes are "
                    "the undisturbed sync's below it; %s; at the end the notes, cursor and root "
                    "of an undisturbed sync | %d |"
                    % (name, format(summary["leaves"], ","), summary["paid"],
                       summary["checkpoint_every"], summary["latency_ms"], s["kills"], cursor,
                       "; ".join(extra), s["lost"]))
    return rows


def fault_rows(summary):
    """Markdown rows of the fault matrices in a torture.py summary."""
    f = summary.get("faults") or {}
    rows = []
    d = f.get("disk_injected") or {}
    r = d.get("result") or {}
    if r:
        rows.append("| disk faults injected (fsys table) at open, write, fsync, rename or link, "
                    "folder fsync of every save: wallet, floor, sentinel, lock, daemon token, watch wallet "
                    "| %d faults: %d ENOSPC, %d EIO, %d EDQUOT | status IO, the message names "
                    "the step, the file and the error; the previous file (past the rename: the "
                    "new one) whole and loadable; "
                    "no temp file; the next save succeeds | %d |"
                    % (r["injected"], r["ENOSPC"], r["EIO"], r["EDQUOT"],
                       0 if d["passed"] else 1))
    d = f.get("disk_real") or {}
    r = d.get("result") or {}
    if r:
        done = [k.replace("_", " ") for k, v in r.items() if isinstance(v, dict)]
        skipped = [k.replace("_", " ") for k, v in r.items() if not isinstance(v, dict)]
        rows.append("| real disk faults (tmpfs mounts): %s%s | %d cases | exit 7 naming the "
                    "file and the reason; the wallet the previous checkpoint; the next run "
                    "recovers the lock and converges | %d |"
                    % (", ".join(done), " (skipped: %s)" % ", ".join(skipped) if skipped else "",
                       len(done), 0 if d["passed"] else 1))
    d = f.get("network") or {}
    r = d.get("result") or {}
    if r:
        rows.append("| network faults from the simulator: %s | %d cases | a clear error (exit "
                    "5 or 6) naming the URL or key within its "
                    "bound (hang and drip: `--rpc-timeout-secs 2`); the file intact; a clean "
                    "run converges (a moving head is not an error) | %d |"
                    % (", ".join(k.replace("_", " ") for k in r), len(r),
                       0 if d["passed"] else 1))
    return rows


def hostile_rows(summary):
    """Markdown rows of the hostile-client matrix (it-daemon_hostile's
    figures) in a torture.py summary."""
    d = (summary.get("faults") or {}).get("hostile") or {}
    rows = []
    for name, f in (d.get("result") or {}).items():
        extra = ""
        if "ended_by_service" in f:
            extra = "; %s ended by the service" % format(f["ended_by_service"], ",")
        rows.append("| %s | %s | `GET` status on a fresh connection every 10 ms: %d of %d "
                    "answered, p50 / p99 / max %.1f / %.1f / %.1f ms; RSS +%.1f MiB%s | %d |"
                    % (name, format(f["cases"], ","), f["probes"] - f["failed"], f["probes"],
                       f["p50_ms"], f["p99_ms"], f["max_ms"], f["rss_growth_mib"], extra,
                       0 if d.get("passed") else 1))
    return rows


def update_readme(path, section, rows, header=HEADER):
    """Replaces the table between the section's markers in `path`."""
    begin, end = "<!-- reliability:%s -->" % section, "<!-- /reliability:%s -->" % section
    with open(path) as f:
        text = f.read()
    pat = re.compile(re.escape(begin) + r"\n.*?" + re.escape(end), re.S)
    if not pat.search(text):
        raise RuntimeError("%s has no %s ... %s" % (path, begin, end))
    table = "".join(r + "\n" for r in header + rows)
    text = pat.sub(lambda m: begin + "\n" + table + end, text)
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    if sys.argv[1] == "--fuzz":
        with open(sys.argv[2]) as f:
            update_readme(sys.argv[3], "fuzz", fuzz_rows(json.load(f)), FUZZ_HEADER)
        sys.exit(0)
    with open(sys.argv[1]) as f:
        summ = json.load(f)
    update_readme(sys.argv[2], "torture", torture_rows(summ))
    if summ.get("faults"):
        update_readme(sys.argv[2], "faults", fault_rows(summ))
        if summ["faults"].get("hostile"):
            update_readme(sys.argv[2], "hostile", hostile_rows(summ), HOSTILE_HEADER)
