"""The README's reliability rows: made from the summary that
`make torture` writes (torture.py: kills, and with --faults the disk and
network fault matrices), and written between `<!-- reliability:<section> -->`
and `<!-- /reliability:<section> -->` so each source owns its rows.

    reliability.py SUMMARY.json README.md    rewrites the rows from a summary
"""
import json
import re
import sys


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


def update_readme(path, section, rows):
    """Replaces the rows between the section's markers in `path`."""
    begin, end = "<!-- reliability:%s -->" % section, "<!-- /reliability:%s -->" % section
    with open(path) as f:
        text = f.read()
    pat = re.compile(re.escape(begin) + r"\n.*?" + re.escape(end), re.S)
    if not pat.search(text):
        raise RuntimeError("%s has no %s ... %s" % (path, begin, end))
    text = pat.sub(lambda m: begin + "\n" + "".join(r + "\n" for r in rows) + end, text)
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        summ = json.load(f)
    update_readme(sys.argv[2], "torture", torture_rows(summ))
    if summ.get("faults"):
        update_readme(sys.argv[2], "faults", fault_rows(summ))
