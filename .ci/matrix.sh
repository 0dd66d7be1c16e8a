#!/usr/bin/env bash
# matrix.sh - the replies matrix: real MTAs x real provider replies, and the
# forms real bounces take on their way. Postfix and Exim (gen-dsn.sh) and
# OpenSMTPD (gen-dsn-more.sh) bounce one message per row of shared/corpus/replies.tsv
# and of .ci/testdata/replies-more.tsv (one run for both tables);
# transform.py derives from every captured DSN a text-only copy, a forward as
# attachment, a quoting reply, a Gmail-style inline forward, base64 and
# quoted-printable re-encodings and LF / CRLF line endings, each with the DSN's
# expected verdict. `rebound parse` is scored on every set separately and on all
# together, and the bars below must hold on the captured DSNs and on every
# transformation, on both tables together and on each table alone.
# Needs root to run the MTAs; with MATRIX_CAPTURE=DIR it scores an existing
# capture (DIR/<mta>-<id>.eml, as gen-dsn.sh --capture writes it) instead.
# env: REBOUND_SHARED (default: ../shared beside the repository)
#      MATRIX_REPLIES_MORE  the second table (default .ci/testdata/replies-more.tsv; empty: none)
#      MATRIX_CAPTURE  score the DSNs of this folder; run no MTA
#      MATRIX_MORE     0: do not run gen-dsn-more.sh (OpenSMTPD)
#      MATRIX_REBOUND  score this rebound binary instead of building one
#      MATRIX_KEEP     1: keep the work dir (it is always kept on failure)
set -euo pipefail

# Bars, in percent of the scored rows; MISSING is the number of truth rows
# allowed to get no record at all.
PLAIN_CLASS=${MATRIX_PLAIN_CLASS:-97}        # captured DSNs: class agreement
PLAIN_HARD=${MATRIX_PLAIN_HARD:-99}          # captured DSNs: hard / not hard agreement
PLAIN_MISSING=${MATRIX_PLAIN_MISSING:-0}     # captured DSNs: rows without a record
VARIANT_CLASS=${MATRIX_VARIANT_CLASS:-97}    # each transformation: class agreement
VARIANT_HARD=${MATRIX_VARIANT_HARD:-99}      # each transformation: hard / not hard agreement
VARIANT_MISSING=${MATRIX_VARIANT_MISSING:-0} # each transformation: rows without a record

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${REBOUND_SHARED:-$ROOT/../shared}
REPLIES=$SHARED/corpus/replies.tsv
REPLIES_MORE=${MATRIX_REPLIES_MORE-$ROOT/.ci/testdata/replies-more.tsv}
GEN=$SHARED/mta/gen-dsn.sh
TRUTH=$SHARED/mta/replies-truth.py
SCORE=$SHARED/corpus/score
for f in "$REPLIES" ${REPLIES_MORE:+"$REPLIES_MORE"} "$TRUTH" "$SCORE"; do
  [ -f "$f" ] || { echo "matrix: $f not found" >&2; exit 1; }
done
if [ -z "${MATRIX_CAPTURE:-}" ]; then
  [ -f "$GEN" ] || { echo "matrix: $GEN not found" >&2; exit 1; }
  [ "$(id -u)" = 0 ] || { echo "matrix: must run as root (or set MATRIX_CAPTURE)" >&2; exit 2; }
fi
export PATH=$PATH:/usr/local/go/bin

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rebound-matrix.XXXXXX")
chmod 755 "$WORK"
cleanup() {
  local rc=$?
  if [ $rc = 0 ] && [ "${MATRIX_KEEP:-0}" != 1 ]; then rm -rf "$WORK"; else echo "matrix: work dir kept: $WORK" >&2; fi
  exit $rc
}
trap cleanup EXIT

port_free() { ! timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
free_port() {  # first free port from $1
  local p=$1
  while ! port_free "$p"; do p=$((p+1)); done
  echo "$p"
}

if [ -n "${MATRIX_REBOUND:-}" ]; then
  cp "$MATRIX_REBOUND" "$WORK/rebound"
else
  echo "matrix: building rebound"
  (cd "$ROOT" && go build -o "$WORK/rebound" ./cmd/rebound)
fi

CAP=$WORK/capture PLAIN=$WORK/sets/plain
# both tables in one MTA run (ids and recipients are distinct across them; gen-dsn.sh checks)
TABLE=$WORK/replies.tsv
cp "$REPLIES" "$TABLE"
if [ -n "$REPLIES_MORE" ]; then
  [ "$(head -n1 "$REPLIES")" = "$(head -n1 "$REPLIES_MORE")" ] ||
    { echo "matrix: $REPLIES_MORE: header differs from $REPLIES" >&2; exit 1; }
  tail -n +2 "$REPLIES_MORE" >> "$TABLE"
fi
mkdir -p "$CAP" "$PLAIN" "$WORK/truth" "$WORK/records"
if [ -n "${MATRIX_CAPTURE:-}" ]; then
  cp "$MATRIX_CAPTURE"/*-*.eml "$CAP/"
  echo "matrix: scoring the capture in $MATRIX_CAPTURE ($(ls "$CAP" | wc -l) DSNs)"
else
  PORT=$(free_port 2560)
  echo "matrix: Postfix and Exim bounce every row of $REPLIES ${REPLIES_MORE:+and $REPLIES_MORE }(DSNs captured on 127.0.0.1:$PORT)"
  bash "$GEN" --replies "$TABLE" --capture "$CAP" "127.0.0.1:$PORT"
  if [ "${MATRIX_MORE:-1}" != 0 ]; then
    PORT=$(free_port 2560)
    echo "matrix: OpenSMTPD bounces every row (DSNs captured on 127.0.0.1:$PORT)"
    bash "$ROOT/.ci/gen-dsn-more.sh" --replies "$TABLE" --capture "$CAP" "127.0.0.1:$PORT" ||
      echo "matrix: gen-dsn-more.sh failed; scoring what was captured"
  fi
fi
# Only the final failure reports of a row have a truth row; the others (e.g. an
# <mta>-<id>-delayed.eml) are named by replies-truth.py and left out.
python3 "$TRUTH" "$TABLE" "$CAP" > "$WORK/truth/plain.tsv"
cut -f1 "$WORK/truth/plain.tsv" | tail -n +2 | sort -u | while read -r f; do cp "$CAP/$f" "$PLAIN/"; done

python3 "$ROOT/.ci/transform.py" "$PLAIN" "$WORK/sets" ||
  echo "matrix: transform.py could not make every variant; those count as rows without a record"
SETS="plain text-only fwd-attach reply-quoted fwd-inline base64 qp lf crlf"
for s in $SETS; do
  [ "$s" = plain ] || awk -F'\t' -v OFS='\t' -v s="$s" 'NR > 1 { sub(/\.eml$/, "." s ".eml", $1) } 1' \
    "$WORK/truth/plain.tsv" > "$WORK/truth/$s.tsv"
  "$WORK/rebound" parse --json "$WORK/sets/$s" > "$WORK/records/$s.jsonl" 2> "$WORK/records/$s.err" || true
done
same=0
for f in "$PLAIN"/*.eml; do
  cmp -s "$f" "$WORK/sets/crlf/$(basename "$f" .eml).crlf.eml" && same=$((same+1))
done
echo "matrix: crlf: $same of $(ls "$PLAIN" | wc -l) DSNs were CRLF already (unchanged)"

python3 - "$WORK" "$SCORE" "$SETS" "$PLAIN_CLASS" "$PLAIN_HARD" "$PLAIN_MISSING" \
  "$VARIANT_CLASS" "$VARIANT_HARD" "$VARIANT_MISSING" "$REPLIES" ${REPLIES_MORE:+"$REPLIES_MORE"} <<'PY'
import email, email.policy, json, os, re, subprocess, sys
work, score, sets = sys.argv[1], sys.argv[2], sys.argv[3].split()
plain_bar = {"class": float(sys.argv[4]), "hard": float(sys.argv[5]), "missing": int(sys.argv[6])}
variant_bar = {"class": float(sys.argv[7]), "hard": float(sys.argv[8]), "missing": int(sys.argv[9])}
tables = sys.argv[10:]  # the replies tables; with two, each is also held to the bars alone
FIELDS = ["recipient", "status", "replycode", "reason", "hard", "class"]

def truth_keys(path):
    with open(path) as f:
        next(f)
        return {(l.split("\t")[0], int(l.split("\t")[1])) for l in f if l.strip()}

def run_score(records, truth):
    with open(records, "rb") as f:
        out = subprocess.run([sys.executable, score, "--truth", truth, "--not-bounces", "/nonexistent",
                              "--verbose"], stdin=f, capture_output=True, text=True, check=True).stdout
    lines = out.rstrip("\n").split("\n")
    pct = {fld: m.group(1) for fld in FIELDS
           for m in [re.search(fld + r" \d+/\d+ \(([\d.]+)%\)", lines[-1])] if m}
    misses = [l for l in lines if "\twant=" in l]
    missing = {l.split("\t")[0] for l in misses if l.endswith("got='(missing)'")}
    return pct, misses, missing

def extra_records(records, keys):  # records for recipients the truth does not expect
    n = 0
    for line in open(records):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if (os.path.basename(str(r.get("source", ""))), int(r.get("index", 0))) not in keys:
            n += 1
    return n

def defects(path):  # MIME defects the email package finds, in any part
    msg = email.message_from_binary_file(open(path, "rb"), policy=email.policy.default)
    return sum(len(p.defects) for p in msg.walk())

rows, failures = [], []
all_records, all_truth = os.path.join(work, "records", "all.jsonl"), os.path.join(work, "truth", "all.tsv")
with open(all_records, "w") as ar, open(all_truth, "w") as at:
    for i, s in enumerate(sets):
        rec, tru = os.path.join(work, "records", s + ".jsonl"), os.path.join(work, "truth", s + ".tsv")
        ar.write(open(rec).read())
        t = open(tru).read().split("\n", 1)
        at.write((t[0] + "\n" if i == 0 else "") + t[1])
sets_all = sets + ["all"]
plain_defects = {}
for s in sets_all:
    rec, tru = os.path.join(work, "records", s + ".jsonl"), os.path.join(work, "truth", s + ".tsv")
    keys = truth_keys(tru)
    pct, misses, missing = run_score(rec, tru)
    err = os.path.join(work, "records", s + ".err")
    errs = [l for l in open(err)] if os.path.exists(err) else []
    bad_mime = 0
    if s != "all":
        for name in sorted(os.listdir(os.path.join(work, "sets", s))):
            stem = name[:-len(".eml")] if s == "plain" else name[:-len(f".{s}.eml")]
            d = defects(os.path.join(work, "sets", s, name))
            if s == "plain":
                plain_defects[stem] = d
            elif d > plain_defects.get(stem, 0):
                bad_mime += 1
                print(f"matrix: {s}/{name}: {d} MIME defects (the capture has {plain_defects.get(stem, 0)})")
    rows.append((s, len(keys), pct, len(missing), extra_records(rec, keys), bad_mime, len(errs)))
    if s == "all":
        continue
    bar = plain_bar if s == "plain" else variant_bar
    why = []
    for fld in ("class", "hard"):
        if float(pct.get(fld, 0)) < bar[fld]:
            why.append(f"{fld} {pct.get(fld, '?')}% < {bar[fld]:g}%")
    if len(missing) > bar["missing"]:
        why.append(f"{len(missing)} rows without a record (at most {bar['missing']})")
    if bad_mime:
        why.append(f"{bad_mime} transformed files are not well-formed MIME")
    if why:
        failures.append((s, why, misses, errs))

def row_id(name, s):  # <mta>-<id>.eml, or <mta>-<id>.<set>.eml for a transformation
    stem = name[:-len(".eml")] if s == "plain" else name[:-len(f".{s}.eml")]
    return stem.split("-", 1)[1]

checked = len(sets)
if len(tables) > 1:
    for t in tables:
        tname = os.path.splitext(os.path.basename(t))[0]
        with open(t, encoding="utf-8") as f:
            ids = {l.split("\t")[0] for l in f.read().splitlines()[1:] if l.strip() and not l.startswith("#")}
        for s in sets:
            rec = os.path.join(work, "records", s + ".jsonl")
            lines = open(os.path.join(work, "truth", s + ".tsv")).read().rstrip("\n").split("\n")
            tru = os.path.join(work, "truth", f"{s}@{tname}.tsv")
            with open(tru, "w") as f:
                f.write("\n".join([lines[0]] + [l for l in lines[1:] if row_id(l.split("\t")[0], s) in ids]) + "\n")
            if not truth_keys(tru):  # e.g. MATRIX_CAPTURE of a capture made without this table
                continue
            pct, misses, missing = run_score(rec, tru)
            name, checked = f"{s}@{tname}", checked + 1
            rows.append((name, len(truth_keys(tru)), pct, len(missing), 0, 0, 0))
            bar = plain_bar if s == "plain" else variant_bar
            why = [f"{fld} {pct.get(fld, '?')}% < {bar[fld]:g}%" for fld in ("class", "hard")
                   if float(pct.get(fld, 0)) < bar[fld]]
            if len(missing) > bar["missing"]:
                why.append(f"{len(missing)} rows without a record (at most {bar['missing']})")
            if why:  # the disagreements are listed under the set itself when it failed too
                failures.append((name, why, [] if any(f[0] == s for f in failures) else misses, []))

print()
print(f"{'set':<26}{'rows':>5}" + "".join(f"{f:>10}" for f in FIELDS) + f"{'missing':>9}{'extra':>7}")
for s, n, pct, missing, extra, bad_mime, errs in rows:
    print(f"{s:<26}{n:>5}" + "".join(f"{pct.get(f, '-'):>10}" for f in FIELDS) + f"{missing:>9}{extra:>7}")
print("(percent of scored rows; missing: rows without any record; extra: records of recipients not in the truth)")
# the same per MTA family, on the captured DSNs and over all sets: which MTA's reports lose what
mta_of = lambda name: name.split("-", 1)[0]
for base in ("plain", "all"):
    truth_lines = open(os.path.join(work, "truth", base + ".tsv")).read().rstrip("\n").split("\n")
    record_lines = open(os.path.join(work, "records", base + ".jsonl")).read().splitlines()
    for mta in sorted({mta_of(l.split("\t")[0]) for l in truth_lines[1:]}):
        tru = os.path.join(work, "truth", f"{base}-{mta}.tsv")
        rec = os.path.join(work, "records", f"{base}-{mta}.jsonl")
        with open(tru, "w") as f:
            f.write("\n".join([truth_lines[0]] + [l for l in truth_lines[1:]
                                                  if mta_of(l.split("\t")[0]) == mta]) + "\n")
        with open(rec, "w") as f:
            for l in record_lines:
                try:
                    if mta_of(os.path.basename(str(json.loads(l).get("source", "")))) == mta:
                        f.write(l + "\n")
                except ValueError:
                    pass
        pct, _, missing = run_score(rec, tru)
        print(f"{base + ' ' + mta:<26}{len(truth_keys(tru)):>5}" + "".join(f"{pct.get(f, '-'):>10}" for f in FIELDS)
              + f"{len(missing):>9}")
print(f"bars: plain class >= {plain_bar['class']:g}%, hard >= {plain_bar['hard']:g}%, "
      f"missing <= {plain_bar['missing']}; each transformation class >= {variant_bar['class']:g}%, "
      f"hard >= {variant_bar['hard']:g}%, missing <= {variant_bar['missing']}")
for s, why, misses, errs in failures:
    print(f"\nFAIL {s}: {'; '.join(why)}")
    for l in errs:
        print("  " + l.rstrip("\n"))
    for l in misses:
        print("  " + l)
print(f"\nmatrix: {len(failures)} of {checked} sets below their bars")
sys.exit(1 if failures else 0)
PY
