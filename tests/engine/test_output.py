"""engine.cli.output: Docker CLI formatting (tables, json, Go templates, units)."""

from __future__ import annotations

from datetime import UTC

import pytest

from engine.cli.output import created_at_text, render, since_text, size_text, tabwrite
from engine.errors import InvalidArgument

IMAGES_TABLE = (
    "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t"
    "{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"
)
HEADERS = {"ID": "IMAGE ID"}
ROW = {
    "Repository": "go-single",
    "Tag": "latest",
    "ID": "1a2b3c4d5e6f",
    "CreatedSince": "15 seconds ago",
    "Size": "256MB",
}


def r(rows, fmt, **kw):
    kw.setdefault("default_table", IMAGES_TABLE)
    kw.setdefault("headers", HEADERS)
    return render(rows, fmt, **kw)


# -- tables -----------------------------------------------------------------------


def test_default_table_matches_docker_images_output():
    # Verbatim `docker images go-single` output (Docker >= 23).
    assert r([ROW], None) == (
        "REPOSITORY   TAG       IMAGE ID       CREATED          SIZE\n"
        "go-single    latest    1a2b3c4d5e6f   15 seconds ago   256MB\n"
    )
    assert r([ROW], "table") == r([ROW], None)


def test_empty_table_still_prints_the_header():
    assert r([], None) == "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n"


def test_table_columns_pad_to_widest_plus_three_min_ten_last_unpadded():
    rows = [
        {"Repository": "nginx", "Tag": "latest", "ID": "4e1b6bae1e48", "Size": "192MB"},
        {"Repository": "tomcat", "Tag": "latest", "ID": "15a617d619d4", "Size": "467MB"},
        {"Repository": "redis", "Tag": "5.0", "ID": "99ee9af2b6b1", "Size": "110MB"},
    ]
    out = r(rows, "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.Size}}")
    assert out == (
        "REPOSITORY   TAG       IMAGE ID       SIZE\n"
        "nginx        latest    4e1b6bae1e48   192MB\n"
        "tomcat       latest    15a617d619d4   467MB\n"
        "redis        5.0       99ee9af2b6b1   110MB\n"
    )


def test_single_column_table_has_no_padding():
    # docker/cli image_test.go: "table {{.Repository}}"
    rows = [{"Repository": "image"}, {"Repository": "<none>"}]
    assert r(rows, "table {{.Repository}}") == "REPOSITORY\nimage\n<none>\n"


def test_table_header_names_come_from_headers_then_docker_then_field():
    out = r([{"ID": "x", "CreatedAt": "y", "RepoTags": "z"}],
            "table {{.ID}}\t{{.CreatedAt}}\t{{.RepoTags}}", headers={})  # fmt: skip
    assert out.splitlines()[0] == "ID        CREATED AT   REPO TAGS"


def test_table_header_ignores_json_and_upper():
    out = r([{"Tag": "v1"}], "table {{json .Tag}}\t{{upper .Tag}}")
    assert out == 'TAG       TAG\n"v1"      V1\n'


def test_tabwriter_counts_wide_characters_twice():
    assert tabwrite("a\tb\n日本語\tc\n") == "a         b\n日本語    c\n"
    assert tabwrite("abcdefghijkl\tz\n") == "abcdefghijkl   z\n"


# -- json and quiet ------------------------------------------------------------------


def test_json_prints_one_compact_object_per_line_with_sorted_keys():
    rows = [{"Tag": "<none>", "ID": "1"}, {"Tag": "é", "ID": "2"}]
    assert r(rows, "json") == '{"ID":"1","Tag":"<none>"}\n{"ID":"2","Tag":"é"}\n'
    assert r([], "json") == ""


def test_quiet_uses_the_quiet_field_unless_a_format_is_given():
    rows = [{"ID": "a", "Tag": "1"}, {"ID": "b", "Tag": "2"}]
    assert r(rows, None, quiet_field="ID") == "a\nb\n"
    assert r(rows, "table", quiet_field="ID") == "a\nb\n"
    assert r(rows, "{{.Tag}}", quiet_field="ID") == "1\n2\n"


# -- templates -----------------------------------------------------------------------


ITEM = {
    "Name": "web",
    "Labels": {"com.example": "yes", "a": "1"},
    "List": ["a", "b", "c"],
    "On": True,
    "Off": False,
    "Count": 3,
    "Ratio": 2.0,
    "Config": {"Cmd": ["sh", "-c", "echo hi"], "Env": None},
}


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("{{.Name}}", "web"),
        ("{{ .Name }}", "web"),
        ("name: {{.Name}}!", "name: web!"),
        ("{{.Config.Cmd}}", "[sh -c echo hi]"),
        ("{{.Labels}}", "map[a:1 com.example:yes]"),
        ("{{.List}}", "[a b c]"),
        ("{{.On}} {{.Off}} {{.Count}} {{.Ratio}}", "true false 3 2"),
        ("{{.Config.Env}}", "<nil>"),
        ("{{.Config.Nope}}", "<no value>"),
        ("{{.Labels.a}}", "1"),
        ("{{json .List}}", '["a","b","c"]'),
        ("{{json .Config}}", '{"Cmd":["sh","-c","echo hi"],"Env":null}'),
        ('{{upper .Name}} {{lower "ABC"}}', "WEB abc"),
        ('{{index .Labels "com.example"}}', "yes"),
        ('{{index .Labels "missing"}}', ""),
        ("{{index .List 1}}", "b"),
        ('{{join .List ","}}', "a,b,c"),
        ('{{join (split "x:y" ":") "-"}}', "x-y"),
        ("{{.Name}}{{println}}", "web\n"),
        ("{{println .Name .Count}}", "web 3\n"),
        ("{{.Name}}\\t{{.Count}}\\n", "web\t3\n"),
        ("{{.Name | upper}}", "WEB"),
        ('{{printf "%-5s|%d" .Name .Count}}', "web  |3"),
        ("{{if .On}}y{{else}}n{{end}}", "y"),
        ("{{if .Off}}a{{else if .On}}b{{else}}c{{end}}", "b"),
        ("{{if .Config.Nope}}y{{else}}n{{end}}", "n"),
        ("{{range .List}}<{{.}}>{{end}}", "<a><b><c>"),
        ("{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}", "a=1;com.example=yes;"),
        ("{{range .Config.Nope}}x{{else}}empty{{end}}", "empty"),
        ("{{with .Config}}{{.Cmd}}{{end}}", "[sh -c echo hi]"),
        ("{{range .List}}{{$.Name}}{{end}}", "webwebweb"),
        ('{{len .List}} {{eq .Name "web"}} {{not .On}}', "3 true false"),
        ("a  {{- .Name -}}  b", "awebb"),
        ("{{/* comment */}}x", "x"),
        ('{{title "hello world"}} {{pad .Name 1 1}}|', "Hello World  web |"),
    ],
)
def test_template_features(fmt, expected):
    assert render([ITEM], fmt, default_table="") == expected + "\n"


def test_template_json_dot_is_the_whole_row():
    assert render([{"B": 1, "A": "x"}], "{{json .}}", default_table="") == '{"A":"x","B":1}\n'


def test_template_runs_once_per_row():
    rows = [{"N": "a"}, {"N": "b"}]
    assert render(rows, "{{.N}}", default_table="") == "a\nb\n"
    assert render([], "{{.N}}", default_table="") == ""


def test_missing_row_field_is_an_error_naming_it():
    with pytest.raises(InvalidArgument) as e:
        render([ITEM], "{{.Nope}}", default_table="")
    assert str(e.value) == (
        'template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope"'
    )
    with pytest.raises(InvalidArgument, match=r'^template: :2:4: executing "" at <.Nope>'):
        render([ITEM], "{{.Name}}\\n x{{.Nope}}", default_table="")


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("{{nope .Name}}", 'template: :1: function "nope" not defined'),
        ("{{.Name", "template: :1: unclosed action"),
        ("{{if .On}}x", "template: :1: unexpected EOF"),
        ("x{{end}}", "template: :1: unexpected {{end}}"),
    ],
)
def test_template_parse_errors(fmt, message):
    with pytest.raises(InvalidArgument) as e:
        render([ITEM], fmt, default_table="")
    assert str(e.value) == message


def test_field_of_a_string_is_an_error():
    with pytest.raises(InvalidArgument, match="can't evaluate field X"):
        render([ITEM], "{{.Name.X}}", default_table="")


# -- units (cases from docker/go-units' own tests) --------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (1000, "1kB"),
        (1024, "1.024kB"),
        (1000000, "1MB"),
        (1048576, "1.049MB"),
        (2 * 1000 * 1000, "2MB"),
        (3.42 * 1000**3, "3.42GB"),
        (5.372 * 1000**4, "5.372TB"),
        (2.22 * 1000**5, "2.22PB"),
        (10000000000000 * 1000**5, "1e+04YB"),
        (0, "0B"),
        (10, "10B"),
        (1240, "1.24kB"),
        (4270000, "4.27MB"),
        (117000000, "117MB"),
        (1500000000, "1.5GB"),
    ],
)
def test_size_text_is_go_units_human_size(size, expected):
    assert size_text(size) == expected


@pytest.mark.parametrize(
    ("size", "expected"),
    [(1024, "1.02kB"), (1048576, "1.05MB"), (22600, "22.6kB"), (999999, "1e+03kB")],
)
def test_size_text_precision_three_like_the_images_size_column(size, expected):
    assert size_text(size, 3) == expected


S, M, H = 1, 60, 3600
D = 24 * H
W, MO, Y = 7 * D, 30 * D, 365 * D


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0.45, "Less than a second"),
        (1, "1 second"),
        (45, "45 seconds"),
        (59, "59 seconds"),
        (60, "About a minute"),
        (3 * M, "3 minutes"),
        (35 * M + 40, "35 minutes"),
        (59 * M, "59 minutes"),
        (H, "About an hour"),
        (H + 29 * M, "About an hour"),
        (H + 31 * M, "2 hours"),
        (3 * H + 29 * M, "3 hours"),
        (3 * H + 31 * M, "4 hours"),
        (24 * H, "24 hours"),
        (D + 12 * H, "36 hours"),
        (2 * D, "2 days"),
        (7 * D, "7 days"),
        (13 * D + 5 * H, "13 days"),
        (2 * W, "2 weeks"),
        (2 * W + 4 * D, "2 weeks"),
        (3 * W, "3 weeks"),
        (4 * W + 3 * D, "4 weeks"),
        (MO, "4 weeks"),
        (MO + 2 * W, "6 weeks"),
        (2 * MO, "2 months"),
        (3 * MO + W, "3 months"),
        (5 * MO + 2 * W, "5 months"),
        (13 * MO, "13 months"),
        (24 * MO, "24 months"),
        (24 * MO + 2 * W, "2 years"),
        (3 * Y + 2 * MO, "3 years"),
        (-5, "Less than a second"),
    ],
)
def test_since_text_is_go_units_human_duration(seconds, expected):
    now = 1_700_000_000.0
    assert since_text(now - seconds, now) == expected + " ago"


def test_created_at_text_is_go_time_string():
    assert created_at_text(1727386302, UTC) == "2024-09-26 21:31:42 +0000 UTC"
    assert created_at_text(1727386302.9, UTC) == "2024-09-26 21:31:42 +0000 UTC"


def test_print_inspected_prefixes_each_error_and_exits_1(capsys):
    from engine.cli.output import DAEMON_ERROR, print_inspected

    with pytest.raises(SystemExit) as e:
        print_inspected([{"Name": "a"}], ["network x not found", "network y not found"],
                        "{{.Name}}", prefix=DAEMON_ERROR)
    assert e.value.code == 1
    out, err = capsys.readouterr()
    assert out == "a\n"
    assert err == ("Error response from daemon: network x not found\n"
                   "Error response from daemon: network y not found\n")
    with pytest.raises(SystemExit):
        print_inspected([], ["No such image: x"], None)
    assert capsys.readouterr() == ("[]\n", "Error: No such image: x\n")


def test_act_on_each_prints_each_ref_reports_failures_and_exits_1_at_the_end(capsys):
    from engine.cli.output import act_on_each
    from engine.errors import EngineError, NotFound

    done = []

    def act(ref):
        if ref.startswith("bad"):
            raise NotFound(f"No such thing: {ref}")
        if ref == "busy":
            raise EngineError("it is in use")
        done.append(ref)
        return f"id-of-{ref}"

    with pytest.raises(SystemExit) as e:
        act_on_each(["a", "bad1", "busy", "b"], act)
    assert e.value.code == 1
    assert done == ["a", "b"]  # a failure does not stop the loop
    assert capsys.readouterr() == ("a\nb\n", "Error response from daemon: No such thing: bad1\n"
                                   "Error response from daemon: it is in use\n")
    # passed_over: skipped in silence (network rm -f); other errors still count
    with pytest.raises(SystemExit):
        act_on_each(["bad1", "busy", "a"], act, passed_over=NotFound)
    assert capsys.readouterr() == ("a\n", "Error response from daemon: it is in use\n")
    act_on_each(["bad1", "a"], act, passed_over=NotFound)  # nothing reported: no exit
    assert capsys.readouterr() == ("a\n", "")
    # show: the lines made of what act returned (wait's exit codes, rmi's lines)
    with pytest.raises(SystemExit):
        act_on_each(["a", "bad2", "b"], lambda ref: [act(ref), "more"], show=lambda lines: lines,
                    prefix="Error: ")
    assert capsys.readouterr() == ("id-of-a\nmore\nid-of-b\nmore\n",
                                   "Error: No such thing: bad2\n")
    act_on_each(["a"], act, show=lambda text: (text.upper(),))
    assert capsys.readouterr() == ("ID-OF-A\n", "")
    act_on_each(["a"], lambda ref: [], show=lambda lines: lines)
    assert capsys.readouterr() == ("", "")


def test_act_on_each_lets_other_exceptions_through(capsys):
    from engine.cli.output import act_on_each

    def act(ref):
        if ref == "b":
            raise KeyError(ref)

    with pytest.raises(KeyError):
        act_on_each(["a", "b", "c"], act)
    assert capsys.readouterr() == ("a\n", "")
