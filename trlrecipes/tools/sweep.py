"""`trlrecipes sweep RECIPE key=v1,v2 ...` and `trlrecipes compare RUN_DIR ...`.

A sweep is a grid of ordinary runs, one after another in this process, each in its own run folder under one sweep
folder. Members that differ only in training settings (beta, learning rate, LoRA, ...) share one reference pass:
the first computes the reference log-probs and caches them (trlrecipes.run.refcache), the others read them. A member
that fails is reported and the sweep goes on. `sweep.json` records the settings, the grid and every member; the
table and `compare.png` are the same as `trlrecipes compare` prints and draws for any finished run folders.

Rerunning the same command continues the sweep: finished members (completed, diverged) are skipped, a member that
was interrupted, or left "running" by a process that died (kill -9, a crash: no process holds its lock), resumes
from its newest complete checkpoint, a failed one is trained again. A sweep folder belongs to one set of settings:
every setting that shapes a member (recipe, --demo, the grid, the fixed key=value, the --config file's contents)
is recorded in sweep.json and checked on a rerun, and each member that would be reused is checked against its own
config.yaml; a rerun with other settings into the same folder is refused naming what differs (before, it reported
the old members as "completed earlier, skipped" and recorded the new settings over them), unless `restart` discards
the old members. The default folder is named after a hash of those settings, --config contents included.

Ctrl-C or SIGTERM (a scheduler's stop) stops the whole sweep: the member in training stops after its step with a
checkpoint (run/control.py), is recorded as interrupted, the members after it are not started, and the command
exits 130/143 printing the sweep command that resumes it.

Value syntax: a comma separates the values to sweep (`beta=0.05,0.1,0.2`); square brackets keep commas inside one
value (`trl.report_to=[wandb,tensorboard]`, `lora_target=[q_proj,v_proj],[all-linear]`): the brackets are removed
and the value inside is passed as typed, so a list-valued key gets its usual `a,b` form. Brackets rather than a
second separator such as `;`, because `;` (like `|`) ends a command in every shell and would need quoting each time,
and `[a,b]` already reads as a list; in zsh quote such an argument (`'key=[a,b]'`), since zsh globs on brackets.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import shlex
import shutil
import signal
import time
from datetime import datetime, timezone
from pathlib import Path

from trlrecipes import files
from trlrecipes.errors import RunStopped, UserError
from trlrecipes.paths import check_writable
from trlrecipes.run import folder as run_folder
from trlrecipes.run import record as run_record
from trlrecipes.run.control import EXIT_CODES
from trlrecipes.run.record import RunRecord

SWEEP_FILE = "sweep.json"
PLOT_FILE = "compare.png"
# Settings that change the reference log-probs (model, tokens, length, precision): sweeping one of them gives every
# member its own reference pass, so the sweep does not count on sharing one.
REFERENCE_KEYS = {
    "model",
    "precision",
    "load_in_4bit",
    "trust_remote_code",
    "dataset",
    "eval_dataset",
    "data_format",
    "subset",
    "split",
    "eval_split",
    "max_train_rows",
    "max_eval_rows",
    "eval_share",
    "max_length",
}
FINISHED = ("completed", "diverged")  # a result either way: a rerun does not train them again
PENDING = "pending"  # in sweep.json: not started (yet)
STOP_CODES = set(EXIT_CODES.values())  # RunStopped with these codes is a stop (SIGINT 130, SIGTERM 143), not a failure
_MEMBER_NAME = re.compile(r"^\d{2,}-")


class SweepStop(KeyboardInterrupt):
    """SIGINT/SIGTERM outside a member's training (loading, evaluating, between members): raised by the sweep's
    handler so that the stop ends the sweep with its exit code; during training run/control.py handles it."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def split_values(text: str) -> list[str]:
    """`a,b,[c,d]` -> ['a', 'b', 'c,d']: top-level commas separate values, brackets group (and are removed)."""
    values, depth, current = [], 0, ""
    for char in text:
        if char == "[":
            depth += 1
            if depth == 1:
                continue
        elif char == "]":
            depth -= 1
            if depth < 0:
                raise UserError(f"unbalanced ']' in {text!r}; wrap a value that holds commas in [...]")
            if depth == 0:
                continue
        elif char == "," and depth == 0:
            values.append(current)
            current = ""
            continue
        current += char
    if depth:
        raise UserError(f"unbalanced '[' in {text!r}; wrap a value that holds commas in [...]")
    values.append(current)
    return values


def parse_grid(items: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """key=value items -> ({swept key: values}, fixed key=value items). A fixed key given twice: the last wins, as
    with `trlrecipes run`; a swept key must be given once."""
    grid: dict[str, list[str]] = {}
    fixed: list[str] = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"{item!r}: settings are key=value (sweep several values with key=v1,v2)")
        values = split_values(value)
        if key in grid or (len(values) > 1 and any(f.partition("=")[0] == key for f in fixed)):
            raise UserError(f"{key} is given twice; list all its values once: {key}=v1,v2")
        if len(values) > 1:
            if any(not v for v in values):
                raise UserError(f"{item!r}: an empty value in the list; write {key}=v1,v2 without a trailing comma")
            if len(set(values)) < len(values):
                raise UserError(f"{item!r}: a value is repeated")
            grid[key] = values
        else:
            fixed.append(f"{key}={values[0]}")
    if not grid:
        raise UserError("nothing to sweep: give at least one key with several values, e.g. beta=0.05,0.1,0.2")
    return grid, fixed


def members(grid: dict[str, list[str]]) -> list[dict[str, str]]:
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(grid[k] for k in keys))]


def member_name(index: int, settings: dict[str, str]) -> str:
    text = "_".join(f"{key.removeprefix('trl.')}={value}" for key, value in settings.items())
    return f"{index:02d}-" + re.sub(r"[^A-Za-z0-9._=+-]+", "+", text)[:80]


# --- what a sweep folder belongs to ---------------------------------------------------------------------------
def config_digest(config_file: str | None) -> str | None:
    """sha256 of the --config file's bytes (None without one, or when it cannot be read: resolving reports that)."""
    if not config_file:
        return None
    try:
        return hashlib.sha256(Path(config_file).expanduser().read_bytes()).hexdigest()
    except OSError:
        return None


def fixed_values(fixed: list[str]) -> dict[str, str]:
    """The fixed settings as they take effect (a key given twice: the last value)."""
    return dict(item.partition("=")[::2] for item in fixed)


def settings_record(recipe: str, grid: dict, fixed: list[str], demo: bool, config_file: str | None) -> dict:
    """Every setting of the command that shapes a member: recorded in sweep.json, compared on a rerun."""
    return {
        "recipe": recipe,
        "demo": demo,
        "grid": grid,
        "fixed": fixed_values(fixed),
        "config_file": config_file,
        "config_sha256": config_digest(config_file),
    }


def default_sweep_dir(recipe: str, grid: dict, fixed: list[str], demo: bool, config_file: str | None = None) -> Path:
    """Named after the command's settings, so running the same command again finds (and resumes) the same sweep;
    another --config file's contents give another folder (the name of a sweep without --config is unchanged)."""
    parts: list = [recipe, grid, sorted(fixed), demo]
    if config_file:
        parts.append(config_digest(config_file) or str(config_file))
    digest = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:8]
    return Path("runs") / "sweeps" / f"{Path(recipe).stem}-{digest}"


def _recorded_settings(record: dict) -> dict:
    """The settings an existing sweep.json records (one written before they were recorded: from its fields)."""
    if isinstance(record.get("settings"), dict):
        return record["settings"]
    fixed = record.get("fixed")
    return {
        "recipe": record.get("recipe"),
        "demo": record.get("demo"),
        "grid": record.get("grid"),
        "fixed": fixed_values(fixed) if isinstance(fixed, list) else fixed,
        "config_file": record.get("config_file"),
    }


def _shown(values) -> str:
    return ",".join(values) if isinstance(values, list) else str(values)


def settings_changes(old: dict, new: dict) -> list[str]:
    """What differs between the settings a sweep folder records and this command's, one phrase each."""
    changes = []
    if old.get("recipe") != new["recipe"]:
        changes.append(f"recipe {old.get('recipe')} -> {new['recipe']}")
    if bool(old.get("demo")) != new["demo"]:
        changes.append(f"--demo {'on' if old.get('demo') else 'off'} -> {'on' if new['demo'] else 'off'}")
    old_grid, old_fixed = old.get("grid") or {}, old.get("fixed") or {}
    for key in sorted(set(old_grid) | set(new["grid"]) | set(old_fixed) | set(new["fixed"])):
        before = old_grid.get(key, old_fixed.get(key))
        after = new["grid"].get(key, new["fixed"].get(key))
        if before != after:
            changes.append(
                f"{key}={_shown(before) if before is not None else '(not set)'} -> "
                f"{key}={_shown(after) if after is not None else '(not set)'}"
            )
    if "config_sha256" in old:
        if (old.get("config_sha256"), bool(old.get("config_file"))) != (
            new["config_sha256"],
            bool(new["config_file"]),
        ):
            changes.append(
                f"--config {old.get('config_file') or '(none)'} -> {new['config_file'] or '(none)'}"
                + (" (other contents)" if old.get("config_file") and new["config_file"] else "")
            )
    elif (old.get("config_file") or None) != (new["config_file"] or None):
        changes.append(f"--config {old.get('config_file') or '(none)'} -> {new['config_file'] or '(none)'}")
    return changes


def member_changes(member_dir: Path, cfg_dict: dict) -> list[str]:
    """How the config a member trained with (its config.yaml) differs from what this sweep would train; [] when it
    has none (it never started training) or the same one."""
    import yaml

    path = member_dir / run_record.CONFIG
    if not path.is_file():
        return []
    try:
        old = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        old = None
    if not isinstance(old, dict):
        return [f"{path} is unreadable"]
    new = yaml.safe_load(yaml.safe_dump(cfg_dict, sort_keys=False))  # as config.yaml would hold it
    flat_old, flat_new = _flatten(old), _flatten(new)
    keys = sorted(k for k in set(flat_old) | set(flat_new) if k != "output_dir" and flat_old.get(k) != flat_new.get(k))
    return [f"{member_dir.name}: {key} {flat_old.get(key)!r} -> {flat_new.get(key)!r}" for key in keys]


def _status(folder: Path) -> str | None:
    status = RunRecord(folder).status
    return status if isinstance(status, str) else None


def _reused(member_dir: Path) -> bool:
    """Whether a rerun would keep what this member folder holds (skip it or resume it) rather than train anew."""
    return _status(member_dir) in (*FINISHED, "interrupted", "running")


def _check_folder_is_a_sweep(folder: Path, subject: str) -> None:
    """An existing --out that holds anything but a sweep is refused (a sweep writes member folders into it)."""
    if not folder.is_dir() or (folder / SWEEP_FILE).is_file():
        return
    foreign = [
        path.name
        for path in folder.iterdir()
        if path.name not in (run_folder.LOCK_FILE, PLOT_FILE) and not (_MEMBER_NAME.match(path.name) and path.is_dir())
    ]
    if foreign:
        raise UserError(
            f"{subject} {folder} is not empty and holds no {SWEEP_FILE} (e.g. {sorted(foreign)[0]}); choose a new "
            f"or empty folder for the sweep"
        )


def _discard(folder: Path, names: set[str]) -> list[str]:
    """`restart`: remove the earlier sweep's member run folders, its record and plot (never anything else)."""
    removed = []
    for name in sorted(names):
        path = folder / name
        if path.is_dir() and run_folder.looks_like_run(path):
            if run_folder.is_locked(path):
                raise UserError(
                    f"--restart: {path} is in use ({run_folder.holder(path)}); wait for it to end, or choose "
                    f"another --out"
                )
            shutil.rmtree(path)
            removed.append(name)
    for name in (SWEEP_FILE, PLOT_FILE):
        (folder / name).unlink(missing_ok=True)
    return removed


def sweep_command(
    recipe: str, items: list[str], folder: Path, *, demo: bool, evaluate: bool, config_file: str | None
) -> str:
    """The command that continues this sweep (credentials left out: give them again, e.g. via HF_TOKEN)."""
    from trlrecipes.values import is_secret

    parts = ["trlrecipes", "sweep", recipe, *(i for i in items if not is_secret(i.partition("=")[0]))]
    parts += ["--out", str(Path(folder).expanduser().absolute())]
    if config_file:
        parts += ["--config", str(Path(config_file).expanduser().absolute())]
    if demo:
        parts.append("--demo")
    if not evaluate:
        parts.append("--no-eval")
    return " ".join(shlex.quote(part) for part in parts)


def _stops_end_the_sweep():
    """SIGINT/SIGTERM raise SweepStop while the sweep runs (a member's training installs its own handler, which
    stops after the step, and puts this one back). Without it SIGTERM would kill the process where it stands."""
    from trlrecipes.run.control import signals_raise

    return signals_raise(SweepStop)


# --- the members' runs (the path api.run takes; tools/ does not import the api above it) -----------------------
def _recipe(name: str):
    from trlrecipes.run.recipes import resolve_recipe

    return resolve_recipe(name)


def _member_config(recipe, overrides: list[str], *, demo: bool, config_file: str | None) -> dict:
    """A member's resolved settings, checked as `trlrecipes run` checks them before anything loads."""
    from trlrecipes.run.execute import RunFlags, check, resolve
    from trlrecipes.run.resolve import to_dict

    cfg = resolve(recipe, RunFlags(demo=demo, config_file=config_file, overrides=list(overrides)))
    check(recipe, cfg)
    return to_dict(cfg)


def run_member(recipe, name: str, overrides: list[str], *, demo: bool, resume: bool, overwrite: bool, config_file):
    """Train one member, as `trlrecipes run NAME overrides...` would (tests replace this with a fake)."""
    from trlrecipes.run.execute import RunFlags, execute

    flags = RunFlags(resume=resume, overwrite=overwrite, demo=demo, config_file=config_file, overrides=overrides)
    return execute(recipe, flags, entry=f"trlrecipes run {name}")


def _first_line(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}".splitlines()[0]


def sweep(
    recipe: str,
    items: list[str],
    *,
    demo: bool = False,
    out: Path | None = None,
    evaluate: bool = True,
    config_file: str | None = None,
    restart: bool = False,
) -> dict:
    """Run the grid; returns the sweep record (also written to sweep.json). `restart`: a folder holding a sweep with
    other settings has its members discarded instead of being refused."""
    grid, fixed = parse_grid(items)
    if any(item.partition("=")[0] == "output_dir" for item in fixed) or "output_dir" in grid:
        raise UserError("output_dir is chosen by the sweep (one folder per member); pass --out SWEEP_FOLDER instead")
    found = _recipe(recipe)
    grid_members = members(grid)
    configs = [  # every member's settings are checked before anything trains
        _member_config(found, [*fixed, *(f"{k}={v}" for k, v in m.items())], demo=demo, config_file=config_file)
        for m in grid_members
    ]
    folder = Path(out).expanduser() if out else default_sweep_dir(recipe, grid, fixed, demo, config_file)
    subject = f"--out {out}" if out else "the sweep folder"
    check_writable(folder, subject, folder=True)
    _check_folder_is_a_sweep(folder, subject)
    if run_folder.is_locked(folder):
        raise UserError(f"{folder} is in use by another sweep ({run_folder.holder(folder)}); wait for it to end")
    names = [member_name(index, m) for index, m in enumerate(grid_members, start=1)]
    settings = settings_record(recipe, grid, fixed, demo, config_file)
    earlier = _read_record(folder)
    changes = settings_changes(_recorded_settings(earlier), settings) if earlier else []
    if not changes:  # the same command: still, each member it would reuse must have trained these settings
        for name, cfg_dict in zip(names, configs, strict=True):
            if _reused(folder / name):
                changes += member_changes(folder / name, cfg_dict)
        if len(changes) > 4:
            changes = changes[:4] + [f"{len(changes) - 4} more"]
    if changes and not restart:
        raise UserError(
            f"{folder} holds a sweep with other settings ({'; '.join(changes)}); run the same settings to continue "
            f"it, pass --restart to discard its members and start over, or choose another --out"
        )
    command = sweep_command(recipe, items, folder, demo=demo, evaluate=evaluate, config_file=config_file)
    lock = run_folder.FolderLock(folder).acquire(command)  # one sweep per folder (released however it ends)
    try:
        if restart:
            old_names = {m.get("name") for m in (earlier or {}).get("members", []) if isinstance(m, dict)}
            removed = _discard(folder, {n for n in old_names | set(names) if isinstance(n, str) and "/" not in n})
            if removed:
                print(f"--restart: removed the earlier members {', '.join(removed)} from {folder}", flush=True)
        record = {
            "recipe": recipe,
            "demo": demo,
            "grid": grid,
            "fixed": fixed,
            "config_file": config_file,
            "settings": settings,
            "command": command,
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "members": [
                {"name": name, "dir": str(folder / name), "settings": m, "status": _status(folder / name) or PENDING}
                for name, m in zip(names, grid_members, strict=True)
            ],
        }
        grid_run = _GridRun(folder, found, recipe, fixed, record, command, evaluate, demo, config_file)
        with _stops_end_the_sweep():
            grid_run.run(shares_reference=not (set(grid) & REFERENCE_KEYS))
    finally:
        lock.release()
    rows = [table_row(Path(m["dir"]), m["settings"], m.get("status"), m.get("error")) for m in record["members"]]
    record["table"] = rows
    _write(folder, record)
    print("\n" + format_table(rows, list(grid)))
    done = [Path(m["dir"]) for m in record["members"] if (Path(m["dir"]) / "metrics.jsonl").is_file()]
    if done:
        print(f"plot: {plot_runs(done, folder / PLOT_FILE, labels=[Path(d).name for d in done])}")
    print(f"sweep record: {folder / SWEEP_FILE}")
    return record


def _read_record(folder: Path) -> dict | None:
    record = run_record.read_json(folder / SWEEP_FILE)
    return record if isinstance(record, dict) else None


class _GridRun:
    """The members of one sweep, one after another, and how a stop ends them."""

    def __init__(self, folder, recipe, name, fixed, record, command, evaluate, demo, config_file):
        self.folder, self.recipe, self.name, self.fixed = folder, recipe, name, fixed
        self.record, self.command = record, command
        self.evaluate, self.demo, self.config_file = evaluate, demo, config_file

    def run(self, *, shares_reference: bool) -> None:
        members_ = self.record["members"]
        _write(self.folder, self.record)
        print(
            f"sweep of {len(members_)} runs of {self.name} in {self.folder}"
            + ("; the members share one reference pass" if shares_reference else ""),
            flush=True,
        )
        entry: dict = {}
        try:
            for index, entry in enumerate(members_, start=1):
                self.member(entry, index, (len(members_) - index + 1) if shares_reference else 1)
                _write(self.folder, self.record)
        except RunStopped as stop:
            if stop.exit_code not in STOP_CODES:
                raise
            self.stopped(entry, stop.exit_code, str(stop).splitlines()[0])
        except KeyboardInterrupt as err:  # outside training (loading, evaluating, between members)
            signum = getattr(err, "signum", signal.SIGINT)
            self.stopped(entry, EXIT_CODES.get(signum, 130), signal.Signals(signum).name)
        self.record["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")

    def member(self, entry: dict, index: int, sharing: int) -> None:
        from trlrecipes.run import refcache

        member_dir, total = Path(entry["dir"]), len(self.record["members"])
        label = ", ".join(f"{k}={v}" for k, v in entry["settings"].items())
        status = _status(member_dir)
        if status in FINISHED:
            entry.update(status=status, skipped=True)
            print(f"\n== [{index}/{total}] {label}: {status} earlier, skipped ({member_dir})", flush=True)
            if self.evaluate and status == "completed" and not (member_dir / "eval.json").is_file():
                entry["eval"] = _evaluate(member_dir)  # e.g. the sweep was stopped while evaluating it
            return
        if status == "running" and run_folder.is_locked(member_dir):
            entry.update(status="failed", error=f"in use by another process ({run_folder.holder(member_dir)})")
            print(f"!! member {member_dir.name} is in use by another process; not started", flush=True)
            return
        # interrupted, or "running" with no live process holding its lock (killed, crashed): resume from its
        # newest complete checkpoint (the run's start drops anything newer); failed or never started: train anew.
        resume = status in ("interrupted", "running")
        note = ""
        if resume:
            checkpoint = run_folder.newest_valid_checkpoint(member_dir)
            how = "was interrupted" if status == "interrupted" else "ended abruptly (its process died)"
            note = f" (it {how}; resuming from {checkpoint.name if checkpoint else 'step 0'})"
        print(f"\n== [{index}/{total}] {label} -> {member_dir}{note}", flush=True)
        overrides = [*self.fixed, *(f"{k}={v}" for k, v in entry["settings"].items()), f"output_dir={member_dir}"]
        started = time.monotonic()
        entry.update(status="running", error=None)
        try:
            with refcache.expected_runs(sharing):
                run = run_member(
                    self.recipe,
                    self.name,
                    overrides,
                    demo=self.demo,
                    resume=resume,
                    overwrite=not resume and run_folder.is_nonempty(member_dir),
                    config_file=self.config_file,
                )
            entry["status"] = _status(Path(run.dir)) or "completed"
            if self.evaluate and entry["status"] == "completed":
                entry["eval"] = _evaluate(Path(run.dir))
        except RunStopped as stop:
            if stop.exit_code in STOP_CODES:
                entry.update(status=_after_stop(member_dir), error=str(stop).splitlines()[0])
                raise
            _failed(entry, member_dir, stop)  # e.g. diverged: a result, the sweep goes on
        except KeyboardInterrupt as err:
            entry.update(status=_after_stop(member_dir), error=_first_line(err))
            raise
        except Exception as err:  # one member's failure (bad data, a bug) must not stop the others
            _failed(entry, member_dir, err)
        finally:
            entry["wall_s"] = round(time.monotonic() - started, 1)

    def stopped(self, entry: dict, code: int, why: str):
        """End the sweep on SIGINT/SIGTERM: record it, then raise RunStopped with the exit code and the resume
        line (the same sweep command)."""
        if entry.get("status") in (PENDING, "running"):
            entry["status"] = "interrupted"
        waiting = [m["name"] for m in self.record["members"] if m.get("status") == PENDING]
        self.record["stopped"] = {
            "why": why,
            "member": entry.get("name"),
            "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        _write(self.folder, self.record)
        where = ""
        if entry:
            where = f" {'after' if entry['status'] in FINISHED else 'in'} member {entry['name']} ({entry['status']})"
        raise RunStopped(
            f"{why}: the sweep stopped{where}; {len(waiting)} member(s) not started; record: "
            f"{self.folder / SWEEP_FILE}\nresume the sweep with: {self.command}",
            exit_code=code,
        )


def _after_stop(member_dir: Path) -> str:
    """A member's status once a stop ended it: its own when it had finished (a stop while evaluating it), else
    interrupted (a rerun resumes it from its checkpoint, or starts it when training had not begun)."""
    status = _status(member_dir)
    return status if status in FINISHED else "interrupted"


def _failed(entry: dict, member_dir: Path, err: BaseException) -> None:
    entry.update(status=_status(member_dir) or "failed", error=_first_line(err))
    if entry["status"] == "running":  # the run could not record its end (e.g. the disk is full)
        entry["status"] = "failed"
    print(f"!! member {member_dir.name} failed: {entry['error']}", flush=True)


def _evaluate(run_dir: Path) -> str:
    """Held-out evaluation of a finished member into its eval.json (the table's eval columns): the implicit reward
    on held-out pairs, or for a run trained on prompts (iterative DPO, GRPO) its held-out prompts judged by its
    `eval_reward` verifier (the table's verifier column)."""
    from trlrecipes.tools.eval.pairs import evaluate_run, save_metrics

    cfg = RunRecord(run_dir).config()
    try:
        if _prompt_run(cfg):
            from trlrecipes.tools.eval.generations import evaluate_generations

            if not cfg.get("eval_reward"):
                return "not evaluated: the run names no eval_reward verifier (use eval --generate with a judge)"
            save_metrics(run_dir, evaluate_generations(run_dir, reward_spec=cfg["eval_reward"]), key="generation")
        else:
            save_metrics(run_dir, evaluate_run(run_dir))
    except UserError as err:  # e.g. a run without held-out data: the table shows the training columns only
        return f"not evaluated: {err}"
    return "eval.json"


def _prompt_run(cfg: dict) -> bool:
    from trlrecipes.data import is_prompt_only

    try:
        return is_prompt_only(str(cfg.get("data_format", "hh-rlhf")))
    except UserError:
        return False


def _write(folder: Path, record: dict) -> None:
    files.write_json(folder / SWEEP_FILE, record)  # atomically: a stop while writing never leaves half a record


# --- the table ------------------------------------------------------------------------------------------------
# What ranks chosen above rejected in a run's accuracy (and whose mean difference is its margin), by method: the
# training-side value (TRL's logs, summary.json) and, where it differs, the held-out one (eval.json). A reward model's
# accuracy and DPO's reward accuracy are different measurements, so each row says which one it shows.
IMPLICIT, MEAN_LOGP, LOG_ODDS, RM_SCORE = "implicit reward", "mean-logp reward", "log odds", "RM score"
MEASURES = {
    IMPLICIT: "beta * (log pi - log pi_ref) of the reply (DPO, IPO, RPO, KTO)",
    MEAN_LOGP: "beta * mean token log-prob of the reply, no reference (SimPO; ORPO's training logs)",
    LOG_ODDS: "ORPO's log odds ratio of the reply's mean token log-probs",
    RM_SCORE: "the reward model's score of the reply",
}
TRAIN_MEASURE = {
    "DPO": IMPLICIT,
    "IPO": IMPLICIT,
    "RPO": IMPLICIT,
    "SimPO": MEAN_LOGP,
    "ORPO": MEAN_LOGP,
    "RM": RM_SCORE,
}
EVAL_MEASURE = {**TRAIN_MEASURE, "KTO": IMPLICIT, "ORPO": LOG_ODDS}


def _end(summary: dict, kind: str, name: str):
    value = (summary.get(kind) or {}).get(name)
    return value.get("end") if isinstance(value, dict) else None


def win_rate(result: dict | None):
    """The judged-generation win rate of an eval.json, where the evaluation wrote one."""
    if not isinstance(result, dict):
        return None
    for holder in (result, result.get("generation"), result.get("judge")):
        if isinstance(holder, dict) and isinstance(holder.get("win_rate"), (int, float)):
            return holder["win_rate"]
    return None


def table_row(run_dir: Path, settings: dict, status: str | None = None, error: str | None = None) -> dict:
    run = RunRecord(run_dir)
    summary, result = run.summary(), run.evaluation()
    method = run.method
    held_out = "accuracy" in result
    train_accuracy = _end(summary, "train", "accuracy")
    eval_accuracy = result["accuracy"] if held_out else _end(summary, "eval", "accuracy")
    return {
        "run": run_dir.name,
        "dir": str(run_dir),
        "method": method,
        "settings": settings,
        "status": status or _status(run_dir) or "-",
        "steps": summary.get("steps"),
        "train_margin": _end(summary, "train", "margin"),
        "train_accuracy": train_accuracy,
        "train_measure": TRAIN_MEASURE.get(method) if train_accuracy is not None else None,
        "eval_margin": result.get("margin") if held_out else _end(summary, "eval", "margin"),
        "eval_accuracy": eval_accuracy,
        "eval_measure": (EVAL_MEASURE if held_out else TRAIN_MEASURE).get(method)
        if eval_accuracy is not None
        else None,
        "eval_source": "eval.json" if held_out else ("summary.json" if eval_accuracy is not None else None),
        "verdicts": summary.get("verdicts") or [],
        "win_rate": win_rate(result),
        "verified": _verified(result),
        "bench": _bench(result),
        "error": error,
    }


def _verified(result: dict) -> str | None:
    """A 0/1 judge's paired figures (eval --generate with a verifier): reference -> trained accuracy and the
    difference's 95 % interval."""
    paired = (result.get("generation") or {}).get("paired") if isinstance(result, dict) else None
    if not isinstance(paired, dict) or not isinstance(paired.get("accuracy_difference_ci95"), list):
        return None
    low, high = paired["accuracy_difference_ci95"]
    return f"{paired['reference_accuracy']:.2f}->{paired['trained_accuracy']:.2f} [{low:+.2f},{high:+.2f}]"


def _bench(result: dict) -> str | None:
    """eval --bench in one cell: how many of its metrics regressed, of how many."""
    rows = (result.get("bench") or {}).get("rows") if isinstance(result, dict) else None
    if not isinstance(rows, list) or not rows:
        return None
    regressed = sum(1 for row in rows if isinstance(row, dict) and row.get("verdict") == "regression")
    return f"{regressed}/{len(rows)} regressed"


EXTRA = (("verified", "verifier acc ref->trained [95% CI]"), ("bench", "bench"))


def _measure(row: dict) -> str:
    train, held = row.get("train_measure"), row.get("eval_measure")
    if train and held and train != held:
        return f"{train} / {held}"
    return train or held or "-"


def _cell(value) -> str:
    return "-" if value is None else str(value)


def format_table(rows: list[dict], keys: list[str], *, columns: tuple[str, ...] = ()) -> str:
    """One line per run: `columns` of the row (e.g. run, method), the settings `keys`, then the results. Each
    accuracy is labelled by what ranks the pairs (a column when the runs differ in it, else one line below)."""

    def number(value, width):
        return f"{value:>{width}.3f}" if isinstance(value, (int, float)) else f"{'-':>{width}}"

    def width(name, values):
        return max(len(name), *(len(v) for v in values)) if values else len(name)

    lead = {name: width(name, [_cell(r.get(name)) for r in rows]) for name in columns}
    # judged-generation verifier figures and eval --bench: a column each, when any run has them
    extra = {
        name: width(title, [_cell(r.get(name)) for r in rows])
        for name, title in EXTRA
        if any(r.get(name) for r in rows)
    }
    setting = {key: width(key.removeprefix("trl."), [_cell(r["settings"].get(key)) for r in rows]) for key in keys}
    measures = [_measure(row) for row in rows]
    per_row = len({m for m in measures if m != "-"}) > 1
    measure_width = width("accuracy of", measures)
    header = "  ".join(
        [f"{name:<{lead[name]}}" for name in columns] + [f"{key.removeprefix('trl.'):<{setting[key]}}" for key in keys]
    )
    lines = [
        f"{header}  {'status':<11}{'steps':>6}{'train margin':>14}{'train acc':>11}{'eval margin':>13}"
        f"{'eval acc':>10}"
        + (f"  {'accuracy of':<{measure_width}}" if per_row else "")
        + f"{'win rate':>10}"
        + "".join(f"  {title:<{extra[name]}}" for name, title in EXTRA if name in extra)
        + "  verdicts"
    ]
    for row, measure in zip(rows, measures, strict=True):
        cells = "  ".join(
            [f"{_cell(row.get(name)):<{lead[name]}}" for name in columns]
            + [f"{_cell(row['settings'].get(key)):<{setting[key]}}" for key in keys]
        )
        steps = row["steps"] if row["steps"] is not None else "-"
        verdicts = ", ".join(row["verdicts"]) or "none"
        if row.get("error"):
            verdicts += f"  ({row['error'][:60]})"
        lines.append(
            f"{cells}  {row['status']:<11}{steps:>6}{number(row['train_margin'], 14)}"
            f"{number(row['train_accuracy'], 11)}{number(row['eval_margin'], 13)}"
            f"{number(row['eval_accuracy'], 10)}"
            + (f"  {measure:<{measure_width}}" if per_row else "")
            + f"{number(row['win_rate'], 10)}"
            + "".join(f"  {_cell(row.get(name)):<{extra[name]}}" for name, _ in EXTRA if name in extra)
            + f"  {verdicts}"
        )
    used = [name for name in MEASURES if any(name in m.split(" / ") for m in measures)]
    if len(used) == 1:
        lines.append(f"accuracy: the share of pairs whose {used[0]} ({MEASURES[used[0]]}) ranks chosen above rejected")
    elif used:
        lines.append(
            "accuracy: the share of pairs ranked chosen above rejected by what 'accuracy of' names (train / eval "
            "when they differ); margin: the mean difference of the same"
        )
        lines += [f"  {name:<{max(map(len, used))}}  {MEASURES[name]}" for name in used]
    if any(row["eval_source"] == "summary.json" for row in rows):
        lines.append(
            "eval columns: held-out evaluation (eval.json) where present, else the last evaluation "
            "during training (summary.json)"
        )
    return "\n".join(lines)


# --- compare --------------------------------------------------------------------------------------------------
def differing_settings(run_dirs: list[Path]) -> tuple[list[dict], list[str]]:
    """Each run's settings that differ between the runs (from config.yaml; output_dir left out)."""
    flat = [_flatten(RunRecord(run_dir).config()) for run_dir in run_dirs]
    keys = sorted({k for c in flat for k in c if k != "output_dir"})
    differing = [k for k in keys if len({json.dumps(c.get(k), sort_keys=True, default=str) for c in flat}) > 1]
    return [{k: c.get(k) for k in differing} for c in flat], differing


def _flatten(config: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in config.items():
        if key == "trl" and isinstance(value, dict) and not prefix:
            out.update(_flatten(value, "trl."))
        else:
            out[prefix + key] = value
    return out


IMAGE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


def plot_target(out: Path) -> Path:
    """Where `compare --out` writes the plot: a file with an image suffix, or FOLDER/compare.png for an existing
    folder (matplotlib would otherwise write FOLDER.png beside it, and the command printed FOLDER)."""
    out = Path(out).expanduser()
    if out.is_dir():
        out = out / PLOT_FILE
    elif out.suffix.lower() not in IMAGE_SUFFIXES:
        raise UserError(
            f"--out {out}: name an image file ({', '.join(IMAGE_SUFFIXES)}), or an existing folder to write "
            f"{PLOT_FILE} into"
        )
    check_writable(out, f"--out {out}", folder=False)
    return out


# Columns `compare` shows before the differing settings: runs of different methods (DPO, SFT, a reward model) share
# few settings, so the run's name and method say what each row is.
COMPARE_COLUMNS = ("run", "method")


def compare(run_dirs: list[Path], out: Path) -> list[dict]:
    for run_dir in run_dirs:
        if not (run_dir / "metrics.jsonl").is_file():
            raise UserError(f"{run_dir}: no metrics.jsonl; point to run folders written by `trlrecipes run`")
    target = plot_target(out)
    settings, keys = differing_settings(run_dirs)
    rows = [table_row(run_dir, s) for run_dir, s in zip(run_dirs, settings, strict=True)]
    print(format_table(rows, keys, columns=COMPARE_COLUMNS))
    labels = [row["run"] for row in rows]
    if len(set(labels)) < len(labels):
        labels = [str(d) for d in run_dirs]
    print(f"plot: {plot_runs(run_dirs, target, labels=labels)}")
    return rows


OVERLAY = [
    ("loss (train solid, eval dashed)", ["loss"]),
    ("reward margin", ["rewards/margins"]),
    ("reward accuracy", ["rewards/accuracies"]),
    ("rewards: chosen solid/dashed, rejected dotted/dash-dot", ["rewards/chosen", "rewards/rejected"]),
]


def plot_runs(run_dirs: list[Path], out: Path, *, labels: list[str]) -> Path:
    """One figure, four panels; a colour per run, training solid, evaluation during training dashed (rejected
    rewards: dotted for training, dash-dot for evaluation)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from trlrecipes.monitor.plot import _series, log_kind, read_metrics

    fig = Figure(figsize=(12, 8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = list(fig.subplots(2, 2).flat)
    for index, (run_dir, label) in enumerate(zip(run_dirs, labels, strict=True)):
        records = read_metrics(Path(run_dir) / "metrics.jsonl")
        colour = f"C{index % 10}"
        for ax, (_, keys) in zip(axes, OVERLAY, strict=True):
            for key, style, eval_style in zip(keys, ("-", ":"), ("--", "-."), strict=False):
                for kind, prefix, dash in (("train", "", style), ("eval", "eval_", eval_style)):
                    picked = [r for r in records if log_kind(r) == kind]
                    steps, values = _series(picked, prefix + key)
                    if steps:
                        ax.plot(
                            steps,
                            values,
                            dash,
                            color=colour,
                            marker="o" if len(steps) < 30 else None,
                            markersize=3,
                            label=label if key == keys[0] and kind == "train" else None,
                        )
    for ax, (title, _) in zip(axes, OVERLAY, strict=True):
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")
    import io

    from trlrecipes import files

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=out.suffix.lstrip(".").lower() or "png", dpi=100)
    return files.write_bytes(out, buffer.getvalue())
