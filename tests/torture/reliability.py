"""The README's reliability rows: made from the summaries that
`make torture` writes (torture.py, the disk and network fault matrices),
and written between `<!-- reliability:<section> -->` and
`<!-- /reliability:<section> -->` so each source owns its rows."""
import re


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
        rows.append("| SIGKILL of `%s` at random moments (%d leaves, %d paid, K = %d, %d ms) "
                    "| %d kills | %s; then the notes, cursor and root of an undisturbed sync "
                    "| %d |" % (name, summary["leaves"], summary["paid"],
                                summary["checkpoint_every"], summary["latency_ms"], s["kills"],
                                "; ".join(extra), s["lost"]))
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
