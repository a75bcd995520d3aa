"""py-spy raw (collapsed) stacks -> time by layer, inclusive time of key frames, top leaves."""

from __future__ import annotations

import re
import shutil
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

# Time spent inside these SQLAlchemy frames is time in the DB-API driver / the database
# (py-spy without --native shows no C frames below them).
DRIVER_FUNCS = ("do_execute", "do_executemany", "do_commit", "do_rollback",
                "do_execute_no_params", "do_begin", "do_ping")
LAYERS = [
    ("database + driver (execute / commit)", ("psycopg", "sqlite3", "_sqlite3",
                                              "<method 'execute' of 'sqlite3",
                                              "<method 'commit' of 'sqlite3")),
    ("SpiffWorkflow", ("SpiffWorkflow",)),
    ("SQLAlchemy", ("sqlalchemy",)),
    ("Lotse engine", ("engine/",)),
    ("Lotse processes", ("processes/",)),
    ("Lotse web", ("web/",)),
    ("Flask / Werkzeug / marshmallow / gunicorn", ("flask", "werkzeug", "marshmallow",
                                                   "gunicorn", "webargs", "apispec", "jinja2")),
    ("json / hashing", ("json/", "hashlib", "sha256", "_json")),
    ("form validation (jsonschema)", ("jsonschema", "referencing", "rpds")),
    ("sandbox (RestrictedPython / simpleeval)", ("RestrictedPython", "simpleeval")),
    ("uuid / copy / deepcopy", ("uuid.py", "copy.py")),
    ("socket / selectors (waiting for requests)", ("selectors.py", "socket.py", "ssl.py")),
]
# (label, substring of a py-spy stack): inclusive time of the steps of a completion.
KEY_FRAMES = [
    ("auth: bearer token -> user (web.auth._load_user)", "_load_user (web/auth.py"),
    ("Engine.complete", "Engine.complete (engine/runtime.py"),
    ("store.load (rebuild workflow from rows)", "load (engine/store.py"),
    ("store.save (delta: serialize, hash, write)", "save (engine/store.py"),
    ("steps.advance (SpiffWorkflow runs to next wait)", "advance (engine/steps.py"),
    ("Engine._project (worklist rows)", "Engine._project (engine/runtime.py"),
    ("messaging (outbox, subscriptions)", "engine/messaging.py"),
    ("forms.clean_and_validate", "clean_and_validate (engine/forms.py"),
    ("next_timer_at", "next_timer_at (engine/steps.py"),
    ("audit (events, hash chain)", "engine/audit.py"),
    ("commit (flush + COMMIT)", "commit (sqlalchemy/orm/session.py"),
    ("Engine.tasks (the benchmark's lookup of task ids)", "Engine.tasks (engine/runtime.py"),
]
FRAME_RE = re.compile(r"^(.*) \((.*?)(?::(\d+))?\)$")


def pyspy() -> str | None:
    exe = Path(sys.executable).parent / "py-spy"
    return str(exe) if exe.exists() else shutil.which("py-spy")


def layer(path: str, func: str) -> str:
    if func.rsplit(".", 1)[-1] in DRIVER_FUNCS and "sqlalchemy" in path:
        return LAYERS[0][0]
    probe = f"{path}:{func}"
    for name, keys in LAYERS:
        if any(k in probe for k in keys):
            return name
    return "other (stdlib, builtins)"


def parse(raw: Path | list[Path], keep: Callable[[str], bool],
          key_frames: list[tuple[str, str]]) -> dict | None:
    layers: Counter = Counter()
    leaves: Counter = Counter()
    inclusive: Counter = Counter()
    total = 0
    for path in raw if isinstance(raw, list) else [raw]:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit() or not keep(stack):
                continue
            n = int(count)
            m = FRAME_RE.match(stack.split(";")[-1])
            func, fpath = (m.group(1), m.group(2)) if m else (stack.split(";")[-1], "")
            layers[layer(fpath, func)] += n
            leaves[f"{func} ({fpath})"] += n
            for label, probe in key_frames:
                if probe in stack:
                    inclusive[label] += n
            total += n
    if not total:
        return None
    return {"samples": total,
            "layers": {k: v / total for k, v in layers.most_common()},
            "inclusive": {k: inclusive[k] / total for k, _ in key_frames if inclusive[k]},
            "leaves": [(k, v / total) for k, v in leaves.most_common(30)]}


def write(out: Path, res: dict, title: str) -> None:
    with out.open("w") as fh:
        fh.write(f"{title}: {res['samples']} samples.\n\n")
        fh.write("Own time by layer (leaf frame; time inside cursor.execute / commit counts as "
                 "database + driver):\n")
        for k, v in res["layers"].items():
            fh.write(f"  {v * 100:5.1f} %  {k}\n")
        fh.write("\nInclusive time of steps:\n")
        for k, v in res["inclusive"].items():
            fh.write(f"  {v * 100:5.1f} %  {k}\n")
        fh.write("\nTop 30 leaf functions:\n")
        for k, v in res["leaves"]:
            fh.write(f"  {v * 100:5.1f} %  {k}\n")
