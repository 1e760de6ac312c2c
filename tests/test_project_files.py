"""The generated project's containers, CI, pre-commit and editor files, in both flavours.

No container engine runs here. So the files are parsed (PyYAML, the Dockerfile's instructions)
and everything they run, copy or name is checked against the baked project: tools are its
dependencies, tasks are in ``invoke --list`` with the options given, paths exist. And the
image's layout is rebuilt on the host from the Dockerfile's own instructions (the wheel, the
files it copies into WORKDIR, its ENV) and its entrypoint run there on a real database.
"""

from __future__ import annotations

import configparser
import fnmatch
import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from tests.support import FLAVOURS, Project

BIN = Path(sys.executable).parent  # invoke, ruff, mypy, ... of the test environment
HEAD = "0d848db94cb2"


# -- the baked project: its dependencies, tasks and options ----------------------------------


@dataclass
class Baked:
    path: Path
    flavour: str
    _help: dict[str, str] = field(default_factory=dict)

    @functools.cached_property
    def pyproject(self) -> dict[str, Any]:
        return tomllib.loads((self.path / "pyproject.toml").read_text())

    @property
    def runtime(self) -> set[str]:
        """What the image installs (``pip install .``)."""
        return {_name(spec) for spec in self.pyproject["project"]["dependencies"]}

    @property
    def everything(self) -> set[str]:
        """What ``pip install -e '.[dev]'`` installs (CI, pre-commit)."""
        extras = self.pyproject["project"]["optional-dependencies"]
        return self.runtime | {_name(spec) for specs in extras.values() for spec in specs}

    @property
    def lowest_python(self) -> str:
        return str(self.pyproject["project"]["requires-python"]).removeprefix(">=")

    @functools.cached_property
    def tasks(self) -> set[str]:
        listed = Project(self.path).invoke("--list").stdout
        return set(re.findall(r"^\s+(db\.[a-z_]+)", listed, re.MULTILINE))

    def options_of(self, task: str) -> str:
        if task not in self._help:
            self._help[task] = Project(self.path).invoke("--help", task).stdout
        return self._help[task]

    def assert_runs(self, argv: list[str], installed: set[str]) -> None:
        """``argv`` can run here: its program is one of ``installed``, its task and options
        exist."""
        program, *args = argv
        if program == "python":
            assert args[:3] == ["-m", "pip", "install"], argv
            for extra in re.findall(r"\[([\w,-]+)\]", " ".join(args)):
                assert set(extra.split(",")) <= set(
                    self.pyproject["project"]["optional-dependencies"]
                )
            return
        assert program in installed, f"{program} is not a dependency ({' '.join(argv)})"
        if program == "invoke":
            task, *options = args
            assert task in self.tasks, f"{task} is not a task"
            for option in (o.split("=", 1)[0] for o in options if o.startswith("--")):
                assert re.search(rf"{option}[= ]", self.options_of(task)), f"{task}: no {option}"
        if program == "ruff":
            assert args[0] in {"check", "format"}, argv
        if program == "pytest" and "-n" in args:
            assert "pytest-xdist" in installed


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9_.-]+", requirement)
    assert match, requirement
    return match.group(0).lower()


@pytest.fixture(scope="module", params=list(FLAVOURS))
def project(request: pytest.FixtureRequest, baked: dict[str, Path]) -> Baked:
    return Baked(baked[request.param], request.param)


def commands_of(script: str) -> list[list[str]]:
    """The commands of a shell snippet, one per line, comments and blank lines left out."""
    lines = (line.split(" #", 1)[0].strip() for line in script.splitlines())
    return [shlex.split(line) for line in lines if line and not line.startswith("#")]


# -- the Dockerfile ------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str

    @property
    def words(self) -> list[str]:
        return shlex.split(self.arguments)

    @property
    def flags(self) -> dict[str, str]:
        return dict(w[2:].partition("=")[::2] for w in self.words if w.startswith("--"))

    @property
    def paths(self) -> list[str]:
        """COPY's sources then its destination."""
        return [w for w in self.words if not w.startswith("--")]

    @property
    def exec_form(self) -> list[str]:
        value = json.loads(self.arguments)
        assert isinstance(value, list), f"{self.keyword} should be in exec form: {self.arguments}"
        return value


def parse_dockerfile(path: Path) -> tuple[list[Instruction], list[list[Instruction]]]:
    """The instructions before the first FROM, and those of each stage (FROM first)."""
    logical: list[str] = []
    pending = ""
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        logical.append(pending)
        pending = ""
    assert not pending, "a continuation line ends the file"
    preamble: list[Instruction] = []
    stages: list[list[Instruction]] = []
    for text in logical:
        keyword, _, arguments = text.strip().partition(" ")
        instruction = Instruction(keyword.upper(), arguments.strip())
        if instruction.keyword == "FROM":
            stages.append([instruction])
        (stages[-1] if stages else preamble).append(instruction)
    return preamble, stages


def only(instructions: list[Instruction], keyword: str) -> Instruction:
    found = [i for i in instructions if i.keyword == keyword]
    assert len(found) == 1, f"expected one {keyword}, found {len(found)}"
    return found[0]


def env_of(instructions: list[Instruction]) -> dict[str, str]:
    return dict(
        word.partition("=")[::2] for i in instructions if i.keyword == "ENV" for word in i.words
    )


def dockerignore(project: Path) -> list[str]:
    lines = (line.strip() for line in (project / ".dockerignore").read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def ignored(relative: str, patterns: list[str]) -> bool:
    """Whether ``relative`` (or a folder above it) is left out of the build context."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        assert not pattern.startswith("!"), "exceptions are not modelled here"
        for candidate in candidates:
            if fnmatch.fnmatchcase(candidate, pattern):
                return True
            if pattern.startswith("**/") and fnmatch.fnmatchcase(
                candidate.rsplit("/", 1)[-1], pattern[3:]
            ):
                return True
    return False


def copied_sources(project: Path, copy: Instruction) -> list[Path]:
    sources = []
    for source in copy.paths[:-1]:
        matches = sorted(project.glob(source))
        assert matches, f"COPY {source}: nothing in the project matches"
        sources.extend(matches)
    return sources


def in_image(workdir: str, destination: str) -> str:
    return os.path.normpath(
        destination if destination.startswith("/") else f"{workdir}/{destination}"
    )


def test_dockerfile_builds_from_the_project(project: Baked) -> None:
    preamble, stages = parse_dockerfile(project.path / "Dockerfile")
    assert [i.arguments for i in preamble if i.keyword == "ARG"] == [
        f"PYTHON_VERSION={project.lowest_python}"
    ]
    assert len(stages) == 2, "a build stage and a runtime stage"
    for stage in stages:
        assert stage[0].words[0] == "python:${PYTHON_VERSION}-slim"
    build, runtime = stages
    assert build[0].words[-2:] == ["AS", "build"]

    # The build stage has what hatchling needs: pyproject, the readme it names, the package.
    copied = {
        p.relative_to(project.path).as_posix()
        for c in build
        if c.keyword == "COPY"
        for p in copied_sources(project.path, c)
    }
    assert {"pyproject.toml", project.pyproject["project"]["readme"], "src"} <= copied
    assert any(
        shlex.split(i.arguments)[-2:] == ["install", "."] for i in build if i.keyword == "RUN"
    )

    # The runtime stage takes the venv, and puts it first on PATH.
    venv = [i for i in runtime if i.keyword == "COPY" and i.flags.get("from") == "build"]
    assert [i.paths for i in venv] == [["/opt/venv", "/opt/venv"]]
    assert env_of(runtime)["PATH"].startswith("/opt/venv/bin:")

    # Every file it copies exists and is in the build context; tasks.py lands in WORKDIR.
    workdir = only(runtime, "WORKDIR").arguments
    patterns = dockerignore(project.path)
    landed = {}
    for copy in (i for i in [*build, *runtime] if i.keyword == "COPY" and "from" not in i.flags):
        for source in copied_sources(project.path, copy):
            relative = source.relative_to(project.path).as_posix()
            assert not ignored(relative, patterns), f"COPY {relative}, which .dockerignore drops"
            if copy in runtime:
                landed[in_image(workdir, f"{copy.paths[-1]}/{source.name}")] = (source, copy)
    assert f"{workdir}/tasks.py" in landed, "invoke looks for tasks.py in the working directory"
    assert f"{workdir}/.env" in landed, "the settings read .env from the working directory"

    # ENTRYPOINT is a copied, executable script; CMD runs a task with what the image installs.
    [entrypoint] = only(runtime, "ENTRYPOINT").exec_form
    source, copy = landed[entrypoint]
    assert os.access(source, os.X_OK), f"{source.name} is not executable in the bake"
    # ... nor, perhaps, in a checkout that lost the bit (Windows): COPY sets it.
    assert copy.flags.get("chmod") == "0755"
    project.assert_runs(only(runtime, "CMD").exec_form, project.runtime)

    # Not root, from the last instruction that needs root on.
    users = [n for n, i in enumerate(runtime) if i.keyword == "USER"]
    assert users, "the image runs as root"
    assert runtime[users[-1]].arguments.split(":")[0] not in {"0", "root"}
    assert all(i.keyword != "RUN" for i in runtime[users[-1] :])


def test_dockerignore_keeps_secrets_and_local_data_out(project: Baked) -> None:
    patterns = dockerignore(project.path)
    for path in [
        ".env.local",
        ".env.production.local",
        "var/x.sqlite3",
        ".venv/bin/python",
        ".git/config",
        "backups/x.dump",
        "src/pkg/__pycache__/m.cpython-311.pyc",
    ]:
        assert ignored(path, patterns), f"{path} would be sent to the build"
    for path in [".env", ".env.production", "tasks.py", "src/pkg/m.py", "pyproject.toml"]:
        assert not ignored(path, patterns), path


def test_entrypoint_initializes_then_execs(project: Baked) -> None:
    script = project.path / "docker-entrypoint.sh"
    text = script.read_text()
    assert text.startswith("#!/bin/sh\n")
    commands = commands_of(text)
    assert commands[0] == ["set", "-eu"], "a failed db.init must stop the container"
    assert commands[-1] == ["exec", "$@"], "the command must become the container's process"
    [init] = [c for c in commands if c[:2] == ["invoke", "db.init"]]
    assert "--wait" in init
    project.assert_runs(init, project.runtime)


# -- compose.yaml --------------------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_compose_wires_the_services(project: Baked) -> None:
    compose = load_yaml(project.path / "compose.yaml")
    services = compose["services"]
    app = services["app"]
    assert app["build"] == "."
    assert (project.path / "Dockerfile").is_file()
    _, stages = parse_dockerfile(project.path / "Dockerfile")
    workdir = only(stages[-1], "WORKDIR").arguments

    # Every named volume a service mounts is declared, and every declared one is mounted.
    mounted = {
        volume.split(":")[0]: volume.split(":")[1]
        for service in services.values()
        for volume in service.get("volumes", [])
        if not volume.startswith((".", "/"))
    }
    assert set(mounted) == set(compose.get("volumes") or {})

    if project.flavour == "postgresql":
        db = services["db"]
        assert set(services) == {"db", "app"}
        assert "pg_isready" in " ".join(db["healthcheck"]["test"])
        assert {"interval", "timeout", "retries"} <= set(db["healthcheck"])
        major = int(db["image"].split(":")[1].split(".")[0])
        # PostgreSQL 18's images keep their data in a versioned folder below /var/lib/postgresql.
        expected = "/var/lib/postgresql" if major >= 18 else "/var/lib/postgresql/data"
        assert expected in mounted.values()
        assert app["depends_on"] == {"db": {"condition": "service_healthy"}}
        url = make_url(app["environment"]["DATABASE_URL"])
        environment = db["environment"]
        assert (url.host, url.port) == ("db", 5432)
        assert url.username == environment["POSTGRES_USER"]
        assert url.password == environment["POSTGRES_PASSWORD"]
        assert url.database == environment["POSTGRES_DB"]
    else:
        assert set(services) == {"app"}
        assert "DATABASE_URL" not in app.get("environment", {})
        assert mounted == {"var": f"{workdir}/var"}, "the SQLite files must outlive the container"


# -- the CI workflow -----------------------------------------------------------------------


def test_ci_runs_every_check_on_the_right_database(project: Baked) -> None:
    workflow = load_yaml(project.path / ".github" / "workflows" / "ci.yml")
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert {"push", "pull_request"} <= set(triggers)
    [job] = workflow["jobs"].values()
    steps = job["steps"]

    uses = [step["uses"] for step in steps if "uses" in step]
    assert all(re.fullmatch(r"actions/[\w-]+@v\d+", u) for u in uses), uses
    [setup] = [step for step in steps if step.get("uses", "").startswith("actions/setup-python")]
    assert setup["with"]["python-version"] == project.lowest_python

    ran: list[tuple[list[str], dict[str, str]]] = [
        (argv, step.get("env", {}))
        for step in steps
        if "run" in step and step is not cruft_step(workflow)  # a shell script: test_cruft runs it
        for argv in commands_of(step["run"])
    ]
    for argv, _ in ran:
        project.assert_runs(argv, project.everything)
    programs = [argv[:2] if argv[0] in {"ruff", "invoke"} else argv[:1] for argv, _ in ran]
    for wanted in (
        ["ruff", "check"],
        ["ruff", "format"],
        ["mypy"],
        ["pytest"],
        ["invoke", "db.init"],
        ["invoke", "db.check"],
    ):
        assert wanted in programs, f"CI does not run {' '.join(wanted)}"
    assert programs.index(["invoke", "db.init"]) < programs.index(["invoke", "db.check"])
    assert "--check" in next(argv for argv, _ in ran if argv[:2] == ["ruff", "format"])
    env_of_step = {tuple(argv[:2]): env for argv, env in ran}

    if project.flavour == "sqlite":
        assert "services" not in job, "the SQLite flavour needs no database server"
        assert not any("DATABASE_URL" in name for _, env in ran for name in env)
        return
    [service] = job["services"].values()
    assert service["image"].startswith("postgres:")
    assert "--health-cmd pg_isready" in service["options"]
    host_port = int(service["ports"][0].split(":")[0])
    password = service["env"]["POSTGRES_PASSWORD"]
    user = service["env"].get("POSTGRES_USER", "postgres")

    def on_the_service(url: str) -> str:
        parsed = make_url(url)
        assert (parsed.host, parsed.port) == ("localhost", host_port)
        assert (parsed.username, parsed.password) == (user, password)
        assert parsed.database
        return parsed.database

    # The suite makes one database per worker from TEST_DATABASE_URL's name, which needs "test".
    assert "test" in on_the_service(env_of_step[("pytest", "-n")]["TEST_DATABASE_URL"])
    assert "test" not in on_the_service(env_of_step[("invoke", "db.init")]["DATABASE_URL"])
    assert env_of_step[("invoke", "db.check")] == env_of_step[("invoke", "db.init")]


def cruft_step(workflow: dict[str, Any]) -> dict[str, Any]:
    """The CI step that runs ``cruft check`` (tests/test_cruft.py runs its script for real)."""
    [job] = workflow["jobs"].values()
    [step] = [step for step in job["steps"] if "cruft check" in step.get("name", "")]
    found: dict[str, Any] = step
    return found


# -- pre-commit and .editorconfig ----------------------------------------------------------


def test_pre_commit_runs_the_projects_own_tools(project: Baked) -> None:
    config = load_yaml(project.path / ".pre-commit-config.yaml")
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert set(hooks) == {"ruff-check", "ruff-format", "mypy"}
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    assert "pre-commit" in project.everything
    for hook in hooks.values():
        assert hook["language"] == "system"  # the venv's tools, at the versions CI installs
        project.assert_runs(shlex.split(hook["entry"]), project.everything)
    # mypy checks the files pyproject.toml names, not only the ones a commit touches.
    assert hooks["mypy"]["pass_filenames"] is False
    assert shlex.split(hooks["ruff-format"]["entry"])[:2] == ["ruff", "format"]


def editorconfig(project: Path) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser()
    parser.read_string("[root]\n" + (project / ".editorconfig").read_text())
    return {name: dict(parser[name]) for name in parser.sections()}


def settings_for(relative: str, sections: dict[str, dict[str, str]]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for glob, values in sections.items():
        alternatives = re.fullmatch(r"\*\.\{(.+)\}", glob)
        globs = [f"*.{e}" for e in alternatives.group(1).split(",")] if alternatives else [glob]
        if any(fnmatch.fnmatchcase(relative.rsplit("/", 1)[-1], g) for g in globs):
            merged.update(values)
    return merged


def test_files_follow_the_editorconfig(project: Baked) -> None:
    sections = editorconfig(project.path)
    assert sections.pop("root") == {"root": "true"}
    assert sections["*"]["end_of_line"] == "lf"
    assert sections["*"]["indent_style"] == "space"
    problems = []
    for path in sorted(project.path.rglob("*")):
        relative = path.relative_to(project.path).as_posix()
        if not path.is_file() or relative.startswith(("var/", ".git/")):
            continue
        text = path.read_bytes().decode(sections["*"]["charset"].replace("-", "_"))
        rules = settings_for(relative, sections)
        if "\r" in text:
            problems.append(f"{relative}: CR line ends")
        if text and rules["insert_final_newline"] == "true" and not text.endswith("\n"):
            problems.append(f"{relative}: no final newline")
        for number, line in enumerate(text.splitlines(), 1):
            if rules["trim_trailing_whitespace"] == "true" and line != line.rstrip():
                problems.append(f"{relative}:{number}: trailing whitespace")
            if line.startswith("\t"):
                problems.append(f"{relative}:{number}: indented with a tab")
    assert problems == []


# -- the entrypoint, run in the image's layout on a real database --------------------------


@dataclass
class Image:
    """The runtime stage's files on the host: the installed wheel and WORKDIR's copies."""

    root: Path
    site: Path
    workdir: Path
    env: dict[str, str]
    entrypoint: list[str]
    command: list[str]

    def run(self, *command: str, **extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*self.entrypoint, *(command or self.command)],
            cwd=self.workdir,
            env={**self.env, **extra},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def image_layout(project: Path, root: Path) -> Image:
    """Lay the runtime stage out under ``root`` from the Dockerfile's own instructions."""
    _, stages = parse_dockerfile(project / "Dockerfile")
    runtime = stages[-1]
    # The build stage's `pip install .`: the same wheel, installed where PYTHONPATH finds it.
    dist, site = root / "dist", root / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(project),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(site),
            str(next(dist.glob("*.whl"))),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    workdir = only(runtime, "WORKDIR").arguments

    def host(path: str) -> Path:
        return root / "fs" / path.lstrip("/")

    host(workdir).mkdir(parents=True)
    for copy in (i for i in runtime if i.keyword == "COPY" and "from" not in i.flags):
        target = host(in_image(workdir, copy.paths[-1]))
        for source in copied_sources(project, copy):
            copied = target / source.name
            if source.is_dir():
                shutil.copytree(source, copied)
            else:
                shutil.copy2(source, copied)
            if "chmod" in copy.flags:
                copied.chmod(int(copy.flags["chmod"], 8))
    env = env_of(runtime)
    env.update(PATH=f"{BIN}:/usr/bin:/bin", PYTHONPATH=str(site), HOME=str(root))
    entrypoint = only(runtime, "ENTRYPOINT").exec_form
    return Image(
        root=root,
        site=site,
        workdir=host(workdir),
        env=env,
        entrypoint=[str(host(entrypoint[0])), *entrypoint[1:]],
        command=only(runtime, "CMD").exec_form,
    )


@pytest.fixture
def image(baked: dict[str, Path], database: str, tmp_path: Path) -> tuple[Image, str]:
    flavour = "sqlite" if database.startswith("sqlite") else "postgresql"
    return image_layout(baked[flavour], tmp_path / "image"), database


def test_entrypoint_brings_the_database_to_head_then_execs_the_command(
    image: tuple[Image, str],
) -> None:
    layout, url = image
    # The image's own command, db.status, exits 1 while a migration is pending.
    started = layout.run(DATABASE_URL=url)
    out, err = started.communicate(timeout=300)
    assert started.returncode == 0, out + err
    assert f"Running upgrade  -> {HEAD}" in err + out
    assert f"[X] {HEAD}" in out
    assert "Seeded (production" in out, "the image runs with APP_ENV=production"
    # Again (already at head), with a command that prints its process id: exec, not a child.
    again = layout.run("sh", "-c", "echo pid=$$", DATABASE_URL=url)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, out + err
    assert f"pid={again.pid}" in out.splitlines()
    assert "Running upgrade" not in err + out


def test_entrypoint_stops_when_the_database_never_comes(
    baked: dict[str, Path], tmp_path: Path
) -> None:
    project = Project.copy_of(baked["postgresql"], tmp_path / "p")
    marker = tmp_path / "command-ran"
    result = project.run(
        "./docker-entrypoint.sh",
        "touch",
        str(marker),
        env={
            "PATH": f"{BIN}:/usr/bin:/bin",
            "DATABASE_URL": "postgresql://postgres:secret@127.0.0.1:1/never_test",
            "DATABASE_WAIT": "1",
        },
        check=False,
    )
    assert result.returncode == 1
    assert not marker.exists(), "the command ran on a database that was never initialized"
    assert result.stderr.startswith("db.init: the server did not accept connections in 1 s")
    assert "Traceback" not in result.stderr
    assert "secret" not in result.stdout + result.stderr
