"""Packaging: every package is installed, the object catalogue loads, the env id is registered."""

from __future__ import annotations

import configparser
import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import gymnasium as gym
import pytest

from dexndm_envs import objects

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_ROOTS = ("dexndm_envs", "baselines", "real")


def setup_cfg() -> configparser.ConfigParser:
    cfg = configparser.ConfigParser()
    assert cfg.read(ROOT / "setup.cfg"), "setup.cfg is missing"
    return cfg


def listed_packages(cfg) -> set[str]:
    return {line.strip() for line in cfg["options"]["packages"].splitlines() if line.strip()}


def package_dirs(cfg) -> dict[str, str]:
    raw = cfg["options"].get("package_dir", "")
    out = {}
    for line in raw.splitlines():
        if "=" in line:
            name, path = (s.strip() for s in line.split("=", 1))
            out[name] = path
    return out


def test_every_package_in_the_tree_is_listed():
    cfg = setup_cfg()
    listed = listed_packages(cfg)
    found = set()
    for root in PACKAGE_ROOTS:
        base = ROOT / root
        if not base.is_dir():
            continue
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT)
            if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
                continue
            found.add(".".join(rel.parts))
    assert {"dexndm_envs", "dexndm_envs.envs", "baselines"} <= found
    missing = sorted(found - listed)
    assert not missing, f"packages missing from setup.cfg [options] packages: {missing}"


def test_every_listed_package_exists():
    cfg = setup_cfg()
    mapping = package_dirs(cfg)
    for name in listed_packages(cfg):
        top = name.split(".")[0]
        path = ROOT / mapping.get(top, top) / Path(*name.split(".")[1:])
        assert (path / "__init__.py").is_file(), f"listed package {name} has no {path / '__init__.py'}"


def test_objects_directory_is_installed_as_dexndm_objects():
    cfg = setup_cfg()
    assert package_dirs(cfg).get("dexndm_objects") == "objects"
    assert "dexndm_objects" in listed_packages(cfg)
    assert (ROOT / "objects" / "catalogue.json").is_file()


def test_package_data_globs_match_files():
    cfg = setup_cfg()
    mapping = package_dirs(cfg)
    for package, globs in cfg["options.package_data"].items():
        directory = ROOT / mapping.get(package, package.replace(".", "/"))
        for pattern in globs.split(","):
            assert list(directory.glob(pattern.strip())), f"{package}: {pattern} matches no file"


def test_console_script_target_exists():
    cfg = setup_cfg()
    scripts = cfg["options.entry_points"]["console_scripts"]
    entries = dict(line.split("=", 1) for line in scripts.splitlines() if "=" in line)
    entries = {k.strip(): v.strip() for k, v in entries.items()}
    assert "dexndm" in entries
    module, func = entries["dexndm"].split(":")
    mod = __import__(module, fromlist=[func])
    assert callable(getattr(mod, func))


# -- the object catalogue ---------------------------------------------------------------------------------
def test_dexndm_objects_catalogue_loads():
    text = resources.files("dexndm_objects").joinpath("catalogue.json").read_text()
    data = json.loads(text)
    assert data["objects"]
    specs = objects.list_objects()
    assert len(specs) == len(data["objects"])
    names = [s.name for s in specs]
    assert len(names) == len(set(names))
    for s in specs:
        assert s.shape in objects.SHAPES
        assert len(s.size) == 3 and min(s.size) > 0 and s.mass > 0 and s.friction > 0


def test_list_objects_by_category():
    assert set(objects.categories()) >= {"cylinder", "cuboid"}
    cylinders = objects.list_objects("cylinder")
    assert cylinders
    assert all(s.category == "cylinder" and s.shape == "cylinder" for s in cylinders)
    assert "cylinder_d55_ar20" in [s.name for s in cylinders]
    spec = objects.get_object("cylinder_d55_ar20")
    assert spec.size[0] == pytest.approx(0.055) and spec.size[0] == spec.size[1]
    assert spec.aspect_ratio == pytest.approx(2.0, rel=1e-3)


def test_get_unknown_object_lists_names():
    with pytest.raises(ValueError) as err:
        objects.get_object("nope")
    message = str(err.value)
    assert "nope" in message
    assert "cylinder_d55_ar20" in message
    assert "cylinder" in message and "cuboid" in message


def test_unknown_category_lists_categories():
    with pytest.raises(ValueError) as err:
        objects.list_objects("teapots")
    assert "cylinder" in str(err.value)


def test_resolve_objects():
    assert [s.name for s in objects.resolve_objects("cylinder_d55_ar20")] == ["cylinder_d55_ar20"]
    assert objects.resolve_objects("cylinder") == objects.list_objects("cylinder")
    pool = objects.resolve_objects(["cylinder_d55_ar20", "cylinder"])
    assert len(pool) == len(objects.list_objects("cylinder"))  # no duplicates
    with pytest.raises(ValueError):
        objects.resolve_objects([])
    with pytest.raises(ValueError):
        objects.resolve_objects(["cylinder", 3])


# -- registration -----------------------------------------------------------------------------------------
def test_env_id_is_registered_on_import():
    import dexndm_envs  # noqa: F401

    assert "DexNDM/LeapRotate-v0" in gym.registry


def test_module_prefixed_id_works_without_import(tmp_path):
    code = (
        "import gymnasium as gym\n"
        "env = gym.make('dexndm_envs:DexNDM/LeapRotate-v0', object='cylinder_d55_ar20')\n"
        "print(env.spec.max_episode_steps, env.observation_space.shape)\n"
        "env.close()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env={**__import__("os").environ, "DEXNDM_CACHE": str(tmp_path)}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "400 (327,)" in out.stdout
