"""``dexndm objects``: list, show, import and sheet through baselines.cli.main.

Every test points ``$DEXNDM_USER_OBJECTS`` at a temporary folder, so ``~/.local`` is never touched.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from baselines.cli import main

ANIMALS = ("cow", "bunny", "duck", "elephant", "bear", "teapot", "mug", "fish")


def run(capsys, *argv: str) -> str:
    main(["objects", *argv])
    return capsys.readouterr().out


def run_error(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as e:
        main(["objects", *argv])
    assert isinstance(e.value.code, str), f"expected an error message, got exit code {e.value.code!r}"
    return e.value.code


def test_list_a_category(capsys):
    out = run(capsys, "list", "--category", "animal")
    lines = out.strip().splitlines()
    assert lines[0].split()[:3] == ["name", "category", "shape"]
    assert [line.split()[0] for line in lines[1:-1]] == list(ANIMALS)
    assert all(line.split()[1] == "animal" for line in lines[1:-1])
    assert lines[-1] == f"{len(ANIMALS)} objects"


def test_list_everything_as_json(capsys):
    entries = json.loads(run(capsys, "list", "--json"))
    assert len(entries) >= 80
    for entry in entries:
        assert {"name", "category", "size", "aspect_ratio", "mass"} <= set(entry)
        assert len(entry["size"]) == 3 and entry["mass"] > 0
        assert entry["aspect_ratio"] == pytest.approx(max(entry["size"]) / min(entry["size"]), rel=1e-3)
    assert len({e["name"] for e in entries}) == len(entries)


def test_show_one_object(capsys):
    duck = json.loads(run(capsys, "show", "duck"))
    assert duck["name"] == "duck" and duck["category"] == "animal" and duck["shape"] == "mesh"
    assert duck["source"] == "shipped" and Path(duck["collision"]).is_file() and Path(duck["visual"]).is_file()


def test_import_then_list_and_show(capsys, l_stl, user_objects):
    out = run(capsys, "import", str(l_stl), "--name", "x", "--scale", "0.001")
    assert out.startswith("imported x:")
    assert str(user_objects / "catalogue.json") in out
    listed = run(capsys, "list", "--category", "user")
    assert listed.strip().splitlines()[1].split()[0] == "x" and listed.strip().endswith("1 objects")
    shown = json.loads(run(capsys, "show", "x"))
    assert shown["source"] == "user" and shown["shape"] == "mesh" and shown["convex"] is False
    assert len(json.loads(run(capsys, "list", "--json"))) == 81


def test_import_with_mass(capsys, l_stl):
    out = run(capsys, "import", str(l_stl), "--name", "y", "--scale", "0.001", "--mass", "0.05")
    assert "50.0 g" in out


@pytest.mark.parametrize("argv, message", [
    (("import", "{dir}/nowhere.stl", "--name", "x"), "no such file"),
    (("import", "{l_stl}", "--name", "x"), "--scale 0.001"),  # a file in mm without --scale
    (("import", "{l_stl}", "--name", "cow", "--scale", "0.001"), "taken"),
    (("import", "{l_stl}", "--name", "my object", "--scale", "0.001"), "must use only letters"),
    (("show", "nope"), "unknown object 'nope'"),
    (("list", "--category", "nope"), "unknown object category 'nope'"),
])
def test_errors_exit_with_a_message(capsys, tmp_path, l_stl, user_objects, argv, message):
    argv = [a.format(dir=tmp_path, l_stl=l_stl) for a in argv]
    error = run_error(capsys, *argv)
    assert error.startswith("dexndm objects: error:"), error
    assert message in error
    assert not user_objects.exists(), "a failed command wrote to the user catalogue"


def test_import_of_a_bad_file(capsys, tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("not a mesh at all\n")
    error = run_error(capsys, "import", str(bad), "--name", "x")
    assert error.startswith("dexndm objects: error:") and "not a mesh" in error


def test_sheet_of_a_category(capsys, tmp_path):
    out_png = tmp_path / "s.png"
    out = run(capsys, "sheet", "--category", "small", "--out", str(out_png))
    assert out.strip() == str(out_png)
    data = out_png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    import matplotlib.image

    image = matplotlib.image.imread(out_png)
    assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 500
    assert image[..., :3].std() > 0.01, "the sheet is blank"
