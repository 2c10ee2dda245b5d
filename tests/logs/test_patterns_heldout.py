"""Pattern mining on logs it was not tuned for, and what settling, naming and pinning promise.

The held-out logs (tests/data/patterns, README there) are printed from seven programs' own
format strings; the truth comes from the format strings alone. They go through the real
command (``opsnb logs templates FILE --header-regex ...``), and the floors below are the
figures measured when the data sets were added (benchmarks/bench_patterns.py), rounded
down: a change that makes the miner worse on data it never saw fails here.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from opsnb.errors import NotFound, ParseError, ValidationError
from opsnb.logs.minefile import mine_file
from opsnb.logs.patterns import TemplateMiner, grouping_accuracy, premask
from opsnb.logs.patterns_cli import templates_cmd
from opsnb.logs.patterns_eval import normalise_template, read_truth, template_accuracy

DATA = Path(__file__).resolve().parents[1] / "data" / "patterns"
META = json.loads((DATA / "datasets.json").read_text(encoding="utf-8"))

# Grouping accuracy floors (measured, rounded down to 0.01) and drain3 0.9's figure on the same
# bodies in the same bench run: the miner must not fall below drain3 on any of them. The *_real
# sets were captured from the programs themselves (README there), the others printed from their
# format strings.
FLOORS = {"sshd": 0.88, "sudo": 0.57, "postgresql": 0.99, "kernel": 0.97, "systemd": 0.87,
          "nginx": 0.99, "apt": 0.99, "nginx_real": 0.99, "sshd_real": 0.96, "postgresql_real": 0.72,
          "dpkg_real": 0.98}
MEAN_FLOOR = 0.90  # the mean of the eleven (measured 0.908): the goal logs nobody tuned for must hold
DRAIN3 = {"sshd": 0.813, "sudo": 0.576, "postgresql": 0.785, "kernel": 0.770, "systemd": 0.247,
          "nginx": 1.000, "apt": 0.462, "nginx_real": 0.654, "sshd_real": 0.874, "postgresql_real": 0.690,
          "dpkg_real": 0.278}


@pytest.fixture(scope="module")
def mined() -> dict[str, tuple[list[str], list[str]]]:
    out = {}
    for name, meta in META.items():
        res = CliRunner().invoke(templates_cmd, [str(DATA / f"{name}.log"), "--header-regex", meta["header_regex"]])
        assert res.exit_code == 0, res.output
        rows = list(csv.DictReader(io.StringIO(res.stdout)))
        out[name] = ([r["template_id"] for r in rows], [r["template"] for r in rows])
    return out


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_grouping_accuracy_floor_on_held_out_logs(mined: dict[str, tuple[list[str], list[str]]], name: str) -> None:
    truth, _ = read_truth(DATA / f"{name}_truth.csv")
    ids, _t = mined[name]
    assert len(ids) == len(truth) == META[name]["lines"]
    acc = grouping_accuracy(ids, truth)
    assert acc >= FLOORS[name], f"{name}: grouping accuracy {acc:.3f} < floor {FLOORS[name]}"
    assert acc >= DRAIN3[name] - 0.005, f"{name}: {acc:.3f} below drain3's {DRAIN3[name]}"


def test_mean_grouping_accuracy_on_held_out_logs(mined: dict[str, tuple[list[str], list[str]]]) -> None:
    accs = [grouping_accuracy(mined[name][0], read_truth(DATA / f"{name}_truth.csv")[0]) for name in META]
    assert sum(accs) / len(accs) >= MEAN_FLOOR, f"mean grouping accuracy {sum(accs) / len(accs):.3f}"


def test_mean_template_accuracy_on_held_out_logs(mined: dict[str, tuple[list[str], list[str]]]) -> None:
    accs = []
    for name in META:
        _ids, truth = read_truth(DATA / f"{name}_truth.csv")
        assert truth is not None
        accs.append(template_accuracy(mined[name][1], truth))
    assert sum(accs) / len(accs) >= 0.60  # measured 0.616


def test_template_normal_form() -> None:
    assert normalise_template("Accepted <*> for <ID> from <IP>:<NUM>  port <NUM> <*> <*>") == \
        "Accepted <*> for <*> from <*> port <*>"
    assert normalise_template('open() "<*>" failed (<*>)') == "open() <*> failed <*>"
    assert template_accuracy(["a <NUM>", "b"], ["a <*>", "c"]) == 0.5


def test_premask_general_shapes() -> None:
    assert premask("GET http://a.example/x from cache.example.org:5070 took 01:02:03 user=alice in /var/log/syslog") \
        == "GET <URL> from <ADDR> took <DUR> user=<*> in <PATH>"
    assert premask("took 00:01") == premask("took 12:34:56") == "took <DUR>"
    assert premask("x=1 k=v") == "x=<NUM> k=<*>"  # a value with digits is typed
    # A task written name[pid] is one value, whichever program: the kernel's segfault line.
    assert premask("nginx[4242]: segfault at 7f0 error 4") == premask("containerd-shim[7]: segfault at 7f0 error 4") \
        == "<*> segfault at <ID> error <NUM>"
    assert premask("in libc.so.6[7f1+1d000] x[1]y") == "in <*> x[<NUM>]y"  # other bracket shapes as before


def test_settle_merges_what_the_online_pass_kept_apart() -> None:
    m = TemplateMiner()
    # A user name first (the routing tokens differ); the names occur in other messages too,
    # which is what tells a value from a constant word.
    users = ("alice", "bob", "carol", "dave")
    msgs = [f"{u} : TTY=pts/0 ; USER=root ; COMMAND=/bin/ls" for u in users]
    msgs += [f"{u} : user NOT in sudoers ; TTY=pts/0 ; USER=root ; COMMAND=/bin/ls" for u in users]
    ids = m.mine(msgs)
    assert len(set(ids)) == 8  # the online pass routes by the first token: one template per user
    moved = m.settle()
    final = [moved.get(i, i) for i in ids]
    assert len(set(final[:4])) == 1 and len(set(final[4:])) == 1 and final[0] != final[4]
    assert m.get(final[0]).text.startswith("<*> : TTY=")
    assert all(m.resolve(i) == f for i, f in zip(ids, final, strict=True))
    assert m.get(ids[1]).id == final[0]  # an old id still finds its template


@pytest.mark.parametrize("name", ["sshd", "systemd", "nginx_real", "postgresql", "apt"])
def test_templates_are_stable_across_runs(tmp_path: Path, name: str) -> None:
    # systemd and nginx_real settle phrases and trailing fields into shorter templates,
    # postgresql and apt free-text tails (statements, package lists) into one <*>.
    log = DATA / f"{name}.log"
    rx = META[name]["header_regex"]
    a, b = mine_file(log, header_regex=rx), mine_file(log, header_regex=rx)
    assert a.ids == b.ids
    assert a.miner.to_dict() == b.miner.to_dict()
    # And a miner continued from the saved JSON gives the same ids to the same lines.
    a.miner.save(tmp_path / "t.json")
    c = mine_file(log, header_regex=rx, miner=TemplateMiner.load(tmp_path / "t.json"))
    same = sum(1 for x, y in zip(a.ids, c.ids, strict=True) if x == y)
    # Every line keeps its id: saved templates take only the lines they already fit. (Generalised
    # online by a line without [preauth], sshd's saved "... <*> [preauth]" moved 43 lines; systemd's
    # and apt's overlapping templates moved 8 and 24 lines the same way.)
    assert same == len(a.ids), f"{len(a.ids) - same} lines changed template"
    assert len(c.miner) <= len(a.miner) + 2


def test_name_and_pin_a_template_and_round_trip(tmp_path: Path) -> None:
    m = TemplateMiner()
    ids = m.mine([f"Failed password for root from 10.0.{i}.{i * 37} port 22 ssh2" for i in (1, 2, 30, 44, 250)])
    t = m.rename(ids[0], "ssh brute force")
    m.pin(t.id)
    assert m.by_name("ssh brute force").id == t.id
    with pytest.raises(ValidationError):
        m.rename(m.add("disk full on /dev/sda1"), "ssh brute force")  # names are unique
    with pytest.raises(ValidationError):
        m.rename(t.id, "  ")
    with pytest.raises(NotFound):
        m.by_name("nope")
    # Pinned: a message that would generalise it gets a template of its own instead.
    before = m.get(t.id).text
    other = m.add("Failed password for admin from 10.0.0.9 port 22 ssh2")
    assert other != t.id and m.get(t.id).text == before
    m.settle()
    assert m.get(t.id).text == before and m.get(t.id).pinned
    m.save(tmp_path / "m.json")
    back = TemplateMiner.load(tmp_path / "m.json")
    assert back.to_dict() == m.to_dict()
    assert back.by_name("ssh brute force").pinned and back.get(t.id).text == before
    assert "ssh2" in back.get(t.id).text  # a constant with a digit, shown as itself


@pytest.mark.parametrize("patch", [
    {"aliases": {"x": 1}},
    {"aliases": {"99": 12345}},
    {"aliases": []},
])
def test_load_rejects_bad_aliases(tmp_path: Path, patch: dict[str, object]) -> None:
    m = TemplateMiner()
    m.mine(["a 1", "b c"])
    data = {**m.to_dict(), **patch}
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(data))
    with pytest.raises(ParseError):
        TemplateMiner.load(p)


def test_load_rejects_duplicate_names_and_bad_fields(tmp_path: Path) -> None:
    m = TemplateMiner()
    m.mine(["a 1", "b c"])
    data = m.to_dict()
    for item in data["templates"]:
        item["name"] = "same"
    p = tmp_path / "dup.json"
    p.write_text(json.dumps(data))
    with pytest.raises(ParseError):
        TemplateMiner.load(p)
    data = m.to_dict()
    data["templates"][0]["pinned"] = "yes"
    p.write_text(json.dumps(data))
    with pytest.raises(ParseError):
        TemplateMiner.load(p)


def test_version_1_files_still_load(tmp_path: Path) -> None:
    data = {"format": "opsnb-template-miner", "version": 1,
            "settings": {"similarity": 0.78, "depth": 2, "max_children": 100, "max_line": 10000},
            "next_id": 3, "templates": [{"id": 1, "tokens": ["a", "<NUM>"], "count": 2, "example": "a 1"}]}
    p = tmp_path / "v1.json"
    p.write_text(json.dumps(data))
    m = TemplateMiner.load(p)
    assert m.add("a 7") == 1 and m.get(1).name is None


def test_templates_command_names_and_pins(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text("".join(f"Failed password for root from 10.0.{i}.{i + 7} port 22 ssh2\n" for i in (1, 2, 30, 44)))
    save = tmp_path / "t.json"
    res = CliRunner().invoke(templates_cmd, [str(log), "--format", "raw", "--save", str(save)])
    assert res.exit_code == 0, res.output
    tid = TemplateMiner.load(save).templates()["template_id"].iloc[0]
    res = CliRunner().invoke(templates_cmd, [str(log), "--format", "raw", "--load", str(save), "--save", str(save),
                                             "--name", f"{tid}=ssh brute force", "--pin", str(tid), "--summary"])
    assert res.exit_code == 0, res.output
    assert "ssh brute force" in res.stdout
    back = TemplateMiner.load(save)
    assert back.by_name("ssh brute force").pinned and back.by_name("ssh brute force").count == 8
    res = CliRunner().invoke(templates_cmd, [str(log), "--pin", "1"])
    assert res.exit_code != 0 and "--load" in res.output
    res = CliRunner().invoke(templates_cmd, [str(log), "--load", str(save), "--name", "x"])
    assert res.exit_code != 0 and "ID=NAME" in res.output
    res = CliRunner().invoke(templates_cmd, [str(log), "--load", str(save), "--pin", "999"])
    assert res.exit_code != 0 and isinstance(res.exception, NotFound)


def test_premask_makes_tokens_of_only_placeholders_one_variable() -> None:
    # A Debian version masks into pieces; whatever the pieces, the token is one variable.
    assert premask("status unpacked libc-bin:amd64 1:2.36-9+deb12u4") == "status unpacked libc-bin:<ID> <*>"
    assert premask("status unpacked libc-bin:amd64 2:1.0") == "status unpacked libc-bin:<ID> <*>"
    assert premask("from 10.0.0.1:22 (5)") == "from <*> <*>"
    assert premask("connection from 1.2.3.4 () at Sat Jul  9 22:53:19 2005") == "connection from <IP> () at <DATE>"
    assert premask("took 5ms") == "took <DUR>"  # a bare placeholder keeps its type


def test_key_of_a_key_value_token_stays_constant() -> None:
    from opsnb.logs.patterns import merge_token

    assert merge_token("TTY=pts/0", "TTY=unknown") == "TTY=<*>"
    assert merge_token("TTY=pts/0", "PWD=/root") == "<*>"
    m = TemplateMiner()
    ids = m.mine([f"alice : TTY={t} ; PWD=/root ; USER=root ; COMMAND=/bin/ls"
                  for t in ("pts/0", "unknown", "pts/1", "console")])
    m.settle()
    assert len({m.resolve(i) for i in ids}) == 1
    assert "TTY=<*>" in m.get(ids[0]).text


def test_settle_merges_trailing_key_colon_fields_that_come_and_go() -> None:
    m = TemplateMiner()
    base = 'open() "/srv/{p}" failed (2: No such file or directory), client: 10.0.0.{i}, server: web, request: "GET /{p}"'
    msgs = [base.format(p=p, i=i) + (f', host: "h{i}"' if i % 2 else "") + (', referrer: "r"' if i % 3 == 0 else "")
            for i, p in enumerate(["a", "b", "c", "d", "e", "f"] * 3)]
    ids = m.mine(msgs)
    m.settle()
    assert len({m.resolve(i) for i in ids}) == 1


def test_pattern_diff_settles_before_it_compares() -> None:
    from opsnb.logs.patterns import pattern_diff

    # Sudo records with the user first: the online pass keeps one template per user, so a user
    # seen only in the window under study would make "new" patterns that are old ones.
    ok = "{u} : TTY=pts/0 ; PWD=/root ; USER=root ; COMMAND=/bin/ls"
    denied = "{u} : user NOT in sudoers ; TTY=pts/0 ; PWD=/root ; USER=root ; COMMAND=/bin/ls"
    before = [f.format(u=u) for u in ("al", "bo", "cy") * 5 for f in (ok, denied)]
    after = [f.format(u=u) for u in ("eve", "al", "bo") * 4 for f in (ok, denied)]
    after += ["disk /dev/sda1 full"] * 4
    df = pattern_diff(before, after)
    assert list(df[df["status"] == "new"]["template"]) == ["disk <PATH> full"]


def test_settle_merges_phrases_of_any_length_seen_in_several_contexts() -> None:
    # Unit descriptions of 1-9 words after Started/Stopped: the phrase occurs after several
    # verbs (a value), the verbs are the commonest words (the template).
    units = ["Journal Service.", "Rotate log files.", "Daily apt upgrade and clean activities.",
             "OpenBSD Secure Shell server.", "A high performance web server and a reverse proxy server.", "Snap Daemon."]
    msgs = [f"{verb} {u}" for verb in ("Started", "Stopped") for u in units for _ in range(3)]
    msgs += [f"Started {u}" for u in units for _ in range(3)]  # starts outnumber stops
    m = TemplateMiner()
    ids = m.mine(msgs)
    m.settle()
    groups = {m.resolve(i) for i in ids}
    assert sorted(m.get(g).text for g in groups) == ["Started <*>", "Stopped <*>"]


def test_settle_keeps_a_rare_frame_from_swallowing_common_words() -> None:
    # The verbs are commoner than the descriptions: "<*> Rotate log files." must not be made.
    m = TemplateMiner()
    msgs = [f"{verb} {u}" for verb in ("Started", "Stopped", "Finished") for u in ("Rotate log files.", "Journal Service.")
            for _ in range(2)]
    ids = m.mine(msgs)
    m.settle()
    assert all(not m.get(i).text.startswith("<*>") for i in ids)


def test_settle_merges_lists_of_names_that_recur_across_events() -> None:
    # Package lists of 1-3 names from a small set: every name is as common in the batch as the
    # frame's words (it fills other events too), so Brain's frequency test alone keeps each list
    # apart; the names sit at different offsets in different lists, which a constant never does.
    names = ["curl", "git", "tzdata", "openssl"]
    lists = [" ".join(names[j % 4] for j in range(i, i + n)) for n in (1, 2, 3) for i in range(4)]
    msgs = [f"{verb} {x} ..." for verb in ("Removing", "Purging") for x in lists for _ in range(2)]
    msgs += [f"Setting up {x} ..." for x in names for _ in range(20)]
    m = TemplateMiner()
    ids = m.mine(msgs)
    m.settle()
    texts = sorted({m.get(m.resolve(i)).text for i in ids})
    assert texts[:2] == ["Purging <*> ...", "Removing <*> ..."]
    # A frame of punctuation alone ("<*> ...") never holds the verbs as a value.
    assert not any(t.startswith("<*>") for t in texts)


def test_premask_drops_a_restated_human_readable_size() -> None:
    assert premask("Fetched 1234 bytes (1.20 KB) in 2s") == premask("Fetched 512 bytes in 2s")
    assert premask("Need 512 bytes (free 3 KB)") != premask("Need 512 bytes")  # not a size restated


# Free text after a label: SQL statements of 3-14 words sharing no word with most of the others.
_SQL = ["select count(*) from users", "update accounts set balance = balance - 10 where id = 7",
        "delete from sessions where expires < now()", "insert into audit values (1, 'x')",
        "vacuum analyze orders", "create index concurrently idx_a on items (sku, warehouse, bin, lot, batch)",
        "refresh materialized view daily_totals", "truncate staging_events"]


def _statements(sql: list[str], prefix: str = "LOG: duration: 12.5 ms statement:") -> list[str]:
    return [f"{prefix} {q}" for q in sql for _ in range(4)] + ["LOG: checkpoint starting: time"] * 40


def test_settle_makes_a_rare_tail_after_a_frequent_prefix_one_variable() -> None:
    m = TemplateMiner()
    ids = m.mine(_statements(_SQL))
    m.settle()
    texts = {m.get(m.resolve(i)).text for i in ids}
    assert texts == {"LOG: duration: <*> ms statement: <*>", "LOG: checkpoint starting: time"}


def test_tail_merge_needs_three_prefix_constants_and_rare_tail_words() -> None:
    # Two constants before the tail (dev: BGL's events split after two words): kept apart.
    m = TemplateMiner()
    ids = m.mine(_statements(_SQL, prefix="SQL statement:"))
    m.settle()
    assert "SQL statement: <*>" not in {m.get(m.resolve(i)).text for i in ids}
    # A word most of the group's tails hold is what the group shares, not a value, even when it
    # is rare in the batch beside the prefix's words (they also fill other templates here).
    m = TemplateMiner()
    sql = [f"{q} on replica" if i < 5 else q for i, q in enumerate(_SQL)]
    ids = m.mine(_statements(sql) + ["LOG: duration: 5 ms total"] * 100 + ["statement: timeout"] * 100)
    m.settle()
    assert "LOG: duration: <*> ms statement: <*>" not in {m.get(m.resolve(i)).text for i in ids}


def test_a_long_tail_keeps_its_template_in_a_continued_run(tmp_path: Path) -> None:
    m = TemplateMiner()
    m.mine(_statements(_SQL))
    m.settle()
    tail = next(t for t in m._templates.values() if t.text.endswith("statement: <*>"))
    m.save(tmp_path / "t.json")
    again = TemplateMiner.load(tmp_path / "t.json")
    # 16 words of statement: longer than any phrase the span rules bound (10).
    new = again.add("LOG: duration: 3.1 ms statement: with recent as (select id from orders where placed > now() "
                    "- interval '1 day') select count(*) from recent")
    again.settle()
    assert again.resolve(new) == tail.id


def test_settle_sees_a_phrase_through_the_punctuation_glued_to_it() -> None:
    # ``Started %s.`` and ``Stopping %s...``: the description is one value in both frames, though
    # each frame glues its own punctuation to its last word, so it counts as seen in two contexts.
    units = ["Journal Service", "Rotate log files", "Daily apt upgrade and clean activities",
             "OpenBSD Secure Shell server", "Snap Daemon"]
    msgs = [f"Started {u}." for u in units for _ in range(3)] + [f"Stopping {u}..." for u in units for _ in range(2)]
    m = TemplateMiner()
    ids = m.mine(msgs)
    m.settle()
    groups = {m.resolve(i) for i in ids}
    assert sorted(m.get(g).text for g in groups) == ["Started <*>", "Stopping <*>"]
