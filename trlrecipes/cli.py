"""The `trlrecipes` command. Commands only: heavy imports live inside them so --help and ls start instantly."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from trlrecipes.errors import UserError
from trlrecipes.paths import check_writable

app = typer.Typer(
    help=(
        "Preference fine-tuning with LoRA on top of Hugging Face TRL: DPO, IPO, RPO, SimPO, ORPO, KTO, iterative "
        "(on-policy) DPO, GRPO and RLOO, the SFT stage and reward models."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Convert and inspect preference datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")

DEBUG_HELP = "Show the full traceback of internal errors."


@app.callback()
def _console(
    verbose: bool = typer.Option(False, "--verbose", help="Show the libraries' warnings, logs and progress bars too."),
) -> None:
    from trlrecipes.console import configure

    configure(verbose)


def _exit(action, debug: bool = False) -> None:
    from trlrecipes.run.execute import guarded

    code = guarded(action, debug=debug)
    if code:
        raise typer.Exit(code)


@app.command("ls")
def list_recipes() -> None:
    """List the built-in method programs and the dataset presets built on them."""
    from trlrecipes.run.recipes import list_recipes as recipes

    header = ("recipe", "kind", "method", "dataset")
    rows = [(info.name, info.kind, info.method, info.dataset, info.description) for info in recipes()]
    widths = [max(len(str(row[i])) for row in [*rows, header]) for i in range(len(header))]
    print("  ".join(f"{name:<{width}}" for name, width in zip(header, widths, strict=False)) + "  description")
    for row in rows:
        print("  ".join(f"{value:<{width}}" for value, width in zip(row, widths, strict=False)) + f"  {row[-1]}")


@app.command("cp")
def copy_recipe(
    name: str = typer.Argument(..., help="Built-in program (dpo) or preset (hh-dpo)."),
    dest: Optional[Path] = typer.Argument(
        None,
        help="File or folder to write (default: ./NAME.py for a program, ./NAME.yaml and its program for a preset).",
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite existing files."),
) -> None:
    """Copy a built-in recipe to edit; a preset comes with its program beside it, so the copy runs on its own."""

    def action():
        from trlrecipes.run.copying import copy_recipe as copy

        for line in copy(name, dest, force=force):
            print(line)

    _exit(action)


@app.command("run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run_recipe(
    recipe: str = typer.Argument(
        ..., help="Built-in recipe (dpo, hh-dpo, ...) or a path to a program .py or preset .yaml."
    ),
    overrides: Optional[list[str]] = typer.Argument(
        None, help="key=value settings, e.g. beta=0.2 trl.weight_decay=0.01"
    ),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML file of settings (below key=value)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the resolved config and exit."),
    demo: bool = typer.Option(False, "--demo", help="Offline CPU demo: embedded model and data."),
    resume: bool = typer.Option(
        False, "--resume", help="Continue the run in output_dir from its newest complete checkpoint."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing run in output_dir."),
    debug: bool = typer.Option(False, "--debug", help=DEBUG_HELP),
) -> None:
    """Run a recipe. Settings: program defaults < preset < --demo < --config FILE.yaml < key=value."""

    def action():
        from trlrecipes.run.execute import RunFlags, execute
        from trlrecipes.run.recipes import resolve_recipe

        flags = RunFlags(
            resume=resume,
            overwrite=overwrite,
            demo=demo,
            dry_run=dry_run,
            config_file=str(config) if config else None,
            overrides=list(overrides or []),
        )
        found = resolve_recipe(recipe)
        # a recipe file: its absolute path, so the printed resume command works from any folder
        shown = found.preset_path or found.program_path if Path(recipe).expanduser().exists() else recipe
        run = execute(found, flags, entry=f"trlrecipes run {shown}")
        if run is not None and demo:
            from trlrecipes.demo.showcase import show_demo

            shortened = any(item.split("=", 1)[0] in ("max_steps", "learning_rate") for item in overrides or [])
            show_demo(run, strict=not shortened)

    _exit(action, debug)  # execute() quiets the libraries after its checks


@app.command("sweep", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def sweep_recipe(
    recipe: str = typer.Argument(..., help="Built-in recipe name or path to a recipe .py file."),
    settings: Optional[list[str]] = typer.Argument(
        None,
        help="key=v1,v2 sweeps those values (the grid "
        "of all swept keys); key=value is fixed; \\[a,b] keeps "
        "commas inside one value.",
    ),
    demo: bool = typer.Option(False, "--demo", help="Offline CPU demo settings for every member."),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML file of settings (below key=value)."),
    out: Optional[Path] = typer.Option(
        None,
        "--out",
        help="Sweep folder (default: runs/sweeps/RECIPE-<hash of the settings>, so the same command resumes).",
    ),
    evaluate: bool = typer.Option(
        True, "--eval/--no-eval", help="Held-out evaluation of each member (eval.json) for the table."
    ),
    restart: bool = typer.Option(
        False,
        "--restart",
        help="Discard the members of a sweep with other settings already in the folder and start over.",
    ),
    debug: bool = typer.Option(False, "--debug", help=DEBUG_HELP),
) -> None:
    """Run a grid of settings one run after another (shared reference pass); finished members are skipped on rerun."""

    def action():
        from trlrecipes.errors import RunStopped
        from trlrecipes.tools.sweep import sweep

        record = sweep(
            recipe,
            list(settings or []),
            demo=demo,
            out=out,
            evaluate=evaluate,
            config_file=str(config) if config else None,
            restart=restart,
        )
        failed = [m["name"] for m in record["members"] if m.get("status") not in ("completed", "diverged")]
        if failed:
            raise RunStopped(
                f"{len(failed)} of {len(record['members'])} member(s) did not finish: "
                f"{', '.join(failed)} (errors in sweep.json); rerun the same command to retry them",
                exit_code=1,
            )

    _exit(action, debug)


@app.command("compare")
def compare_runs(
    run_dirs: list[Path] = typer.Argument(..., help="Finished run folders."),
    out: Path = typer.Option(
        Path("compare.png"),
        "--out",
        help="Where to write the overlay plot: an image file (.png, .pdf, .svg, .jpg), or an existing folder "
        "(FOLDER/compare.png).",
    ),
) -> None:
    """The sweep table (settings that differ, final margin/accuracy, verdicts, win rate) and one overlay plot."""

    def action():
        from trlrecipes.tools.sweep import compare

        compare(list(run_dirs), out)

    _exit(action)


@app.command("plot")
def plot(run_dir: Path = typer.Argument(..., help="A run folder with metrics.jsonl.")) -> None:
    """Redraw metrics.png of a run from its metrics.jsonl."""

    def action():
        from trlrecipes.monitor.plot import plot_metrics

        print(f"wrote {plot_metrics(run_dir / 'metrics.jsonl', run_dir / 'metrics.png')}")

    _exit(action)


@app.command("eval")
def eval_run(
    run_dir: Path = typer.Argument(..., help="A finished run folder."),
    data: Optional[str] = typer.Option(None, "--data", help="Held-out pairs (default: the run's eval data)."),
    max_rows: int = typer.Option(
        0,
        "--max-rows",
        help="Evaluate at most this many pairs (with --generate: prompts); 0 = the run's max_eval_rows.",
    ),
    batch_size: int = typer.Option(8, "--batch-size"),
    generate: bool = typer.Option(
        False, "--generate", help="Generate trained and reference replies and judge them (win rate vs the reference)."
    ),
    reward: Optional[str] = typer.Option(
        None,
        "--reward",
        help="Judge for --generate: module:function or file.py:function, fn(prompt, response) -> float.",
    ),
    reward_model: Optional[str] = typer.Option(
        None,
        "--reward-model",
        help="Judge for --generate: a "
        "sequence-classification reward "
        "model (folder, Hub id, or a "
        "PEFT adapter folder over one).",
    ),
    prompts: Optional[Path] = typer.Option(
        None,
        "--prompts",
        help="With --generate: prompts file (one a "
        "line, or .jsonl with 'prompt') instead "
        "of the run's held-out prompts.",
    ),
    samples: int = typer.Option(1, "--samples", help="With --generate: replies per prompt and side."),
    temperature: float = typer.Option(
        0.0, "--temperature", help="With --generate: 0 = greedy (default); above 0 samples."
    ),
    seed: int = typer.Option(0, "--seed", help="With --generate: sampling and bootstrap seed."),
    max_new_tokens: int = typer.Option(128, "--max-new-tokens", help="With --generate: reply length cap."),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code"),
    bench: Optional[str] = typer.Option(
        None,
        "--bench",
        help="Benchmarks through lm-evaluation-harness: lm-eval task names or task YAML files, comma-separated "
        "(e.g. arc_easy,hellaswag); reference (adapter off) vs trained, with a regression verdict.",
    ),
    bench_option: Optional[list[str]] = typer.Option(
        None, "--bench-option", help="With --bench: an lm-eval option key=value (num_fewshot, limit, batch_size, ...)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    debug: bool = typer.Option(False, "--debug", help=DEBUG_HELP),
) -> None:
    """Held-out reward accuracy and margin of the trained adapter vs. the reference (adapter disabled); with
    --generate, judged replies of both: win rate, length-controlled win rate, reply lengths; with --bench, standard
    benchmarks of both (lm-evaluation-harness) and a regression verdict."""

    def action():
        import json

        from trlrecipes.tools.eval.pairs import evaluate_run, format_metrics, public, save_metrics

        if bench is not None:
            from trlrecipes.tools.eval.bench import bench_run, format_bench, parse_options

            if generate:
                raise UserError("--bench and --generate are two evaluations; run them one at a time")
            options = parse_options(list(bench_option or []))
            result = bench_run(run_dir, [t.strip() for t in bench.split(",") if t.strip()], options=options)
            save_metrics(run_dir, result, key="bench")
            print(json.dumps(result, indent=2) if as_json else format_bench(result))
            return
        if bench_option:
            raise UserError("--bench-option only applies with --bench; add --bench TASKS")
        if not generate:
            generation_only = [
                name
                for name, value in (("--reward", reward), ("--reward-model", reward_model), ("--prompts", prompts))
                if value is not None
            ]
            if generation_only:
                raise UserError(f"{', '.join(generation_only)} only apply with --generate; add --generate")
            result = evaluate_run(run_dir, data, max_rows=max_rows, batch_size=batch_size)
            save_metrics(run_dir, result)
            print(json.dumps(public(result), indent=2) if as_json else format_metrics(result))
            return
        from trlrecipes.tools.eval.generations import evaluate_generations, format_generation_metrics

        if reward is None and reward_model is None:
            raise UserError(
                "--generate needs a judge: --reward module:function (e.g. a verifier) or --reward-model "
                "PATH (a sequence-classification reward model)"
            )
        result = evaluate_generations(
            run_dir,
            reward_spec=reward,
            reward_model=reward_model,
            prompts_file=prompts,
            data=data,
            max_rows=max_rows,
            samples=samples,
            temperature=temperature,
            seed=seed,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            trust_remote_code=trust_remote_code,
            progress=not as_json,
        )
        save_metrics(run_dir, result, key="generation")
        print(json.dumps(result, indent=2) if as_json else format_generation_metrics(result))

    _exit(action, debug)


@app.command("generate")
def generate(
    run_dir: Path = typer.Argument(..., help="A finished run folder."),
    prompt: list[str] = typer.Option(..., "--prompt", help="A user message (repeatable)."),
    compare: bool = typer.Option(False, "--compare", help="Also answer with the reference model."),
    max_new_tokens: int = typer.Option(128, "--max-new-tokens"),
    debug: bool = typer.Option(False, "--debug", help=DEBUG_HELP),
) -> None:
    """Answer prompts with the trained adapter (greedy), optionally next to the reference."""

    def action():
        from trlrecipes.tools.generate import format_answers, generate_answers

        print(format_answers(generate_answers(run_dir, prompt, compare=compare, max_new_tokens=max_new_tokens)))

    _exit(action, debug)


@app.command("synth")
def synth(
    prompts: Path = typer.Argument(
        ..., help="Prompts: a text file (one per line) or .jsonl with a 'prompt' field (a string or a message list)."
    ),
    output: Path = typer.Option(..., "--output", help="JSON-lines file to append pairs to (resumable)."),
    model: str = typer.Option(..., "--model", help="Policy: local folder, Hub id or smollm2-135m-offline."),
    reward_model: Optional[str] = typer.Option(
        None, "--reward-model", help="Sequence-classification reward model (folder or Hub id)."
    ),
    reward: Optional[str] = typer.Option(
        None, "--reward", help="Python reward module:function, called as fn(prompt, response) -> float."
    ),
    num_samples: int = typer.Option(4, "--num-samples", help="Replies sampled per prompt (N)."),
    max_new_tokens: int = typer.Option(256, "--max-new-tokens"),
    temperature: float = typer.Option(1.0, "--temperature"),
    min_gap: float = typer.Option(
        0.0, "--min-gap", help="Drop pairs whose best-worst score gap is below this (a tie is always dropped)."
    ),
    seed: int = typer.Option(42, "--seed"),
    batch_size: int = typer.Option(8, "--batch-size", help="Prompts per generate call."),
    retry_dropped: bool = typer.Option(
        False, "--retry-dropped", help="Sample again the prompts an earlier run dropped (OUTPUT.dropped.jsonl)."
    ),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code"),
    debug: bool = typer.Option(False, "--debug", help=DEBUG_HELP),
) -> None:
    """Synthetic preference pairs by best-of-N sampling: best reply = chosen, worst = rejected (data_format=custom)."""

    def action():
        from trlrecipes.tools.synth import synthesize

        summary = synthesize(
            prompts,
            output,
            model=model,
            reward_model=reward_model,
            reward_spec=reward,
            num_samples=num_samples,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            min_gap=min_gap,
            seed=seed,
            batch_size=batch_size,
            trust_remote_code=trust_remote_code,
            retry_dropped=retry_dropped,
        )
        print(summary.format())
        if summary.written or summary.already_done:
            print(
                f"train on it with: trlrecipes run custom-dpo dataset={output}  (holds out eval_share for evaluation)"
            )

    _exit(action, debug)


@app.command("merge")
def merge(
    run_dir: Path = typer.Argument(..., help="A finished run folder (adapter + config.yaml)."),
    output: Path = typer.Option(..., "--output", help="Folder for the merged transformers model."),
    force: bool = typer.Option(False, "--force", help="Replace a non-empty --output folder."),
    debug: bool = typer.Option(False, "--debug", help=DEBUG_HELP),
) -> None:
    """Merge the LoRA adapter into the base model (its original dtype, unquantized) with tokenizer and model card."""

    def action():
        from trlrecipes.tools.merge import merge_run

        print(merge_run(run_dir, output, force=force).format())

    _exit(action, debug)


@app.command("report")
def report(
    run_dirs: list[Path] = typer.Argument(..., help="One or more run folders (several: a comparison)."),
    output: Optional[Path] = typer.Option(
        None,
        "--output",
        help="Where to write the page (default: RUN_DIR/report.html, or ./report.html for several runs).",
    ),
    debug: bool = typer.Option(False, "--debug", help=DEBUG_HELP),
) -> None:
    """One self-contained report.html: settings, data, curves, verdicts, evaluation, answers before and after."""

    def action():
        from trlrecipes.tools.report import write_report

        print(f"wrote {write_report(run_dirs, output)}")

    _exit(action, debug)


@app.command("plan", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def plan(
    recipe: str = typer.Argument(
        ..., help="Built-in recipe (dpo, hh-dpo, ...) or a path to a program .py or preset .yaml."
    ),
    overrides: Optional[list[str]] = typer.Argument(None, help="key=value settings, as for `trlrecipes run`."),
    gpu_memory: Optional[str] = typer.Option(
        None, "--gpu-memory", help="Budget, e.g. 8GB (read as GiB); proposes settings that fit."
    ),
    model_config: Optional[Path] = typer.Option(
        None, "--model-config", help="A config.json (or its folder) to use instead of the model's."
    ),
    device: str = typer.Option(
        "gpu", "--device", help="gpu, or cpu: fp32 and the process runtime instead of the CUDA context."
    ),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML file of settings (below key=value)."),
    demo: bool = typer.Option(False, "--demo", help="Plan the --demo settings."),
    processes: int = typer.Option(1, "--processes", help="GPUs the run is launched on (accelerate launch)."),
    shard: str = typer.Option(
        "none",
        "--shard",
        help="none (DDP), zero2, zero3 or fsdp: what the engine splits across the GPUs (configs/accelerate/).",
    ),
    debug: bool = typer.Option(False, "--debug", help=DEBUG_HELP),
) -> None:
    """Estimate peak GPU memory of a recipe from the model config alone; propose settings that fit a budget."""

    def action():
        from trlrecipes.tools.plan import plan_recipe

        print(
            plan_recipe(
                recipe,
                list(overrides or []),
                budget=gpu_memory,
                model_config=str(model_config) if model_config else None,
                device=device,
                config_file=str(config) if config else None,
                demo=demo,
                processes=processes,
                shard=shard,
            ).format()
        )

    _exit(action, debug)


@data_app.command("inspect", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def data_inspect(
    target: str = typer.Argument(..., help="Recipe name/file, or a data file (read with --recipe's settings)."),
    overrides: Optional[list[str]] = typer.Argument(None, help="Recipe settings as key=value."),
    recipe: str = typer.Option(
        "hh-dpo", "--recipe", help="Recipe whose model/format/max_length apply when TARGET is a data file."
    ),
    demo: bool = typer.Option(False, "--demo", help="Use the --demo settings."),
    max_rows: int = typer.Option(5000, "--max-rows", help="Inspect the first N converted pairs (0=all)."),
    preview: int = typer.Option(3, "--preview", help="Rendered examples to show."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    debug: bool = typer.Option(False, "--debug", help=DEBUG_HELP),
) -> None:
    """Lint and preview the pairs a recipe would train on: skips, token lengths, truncation, length bias."""

    def action():
        import json

        from trlrecipes.data import config_options, explanations, get_format, load_pairs
        from trlrecipes.data.common import LOCAL_SUFFIXES
        from trlrecipes.data.inspect import format_report, inspect_pairs
        from trlrecipes.run.execute import RunFlags, resolve
        from trlrecipes.run.recipes import resolve_recipe

        settings = list(overrides or [])
        recipe_name = recipe
        if target.endswith(LOCAL_SUFFIXES):
            settings.insert(0, f"dataset={target}")
        else:
            recipe_name = target
        cfg = resolve(resolve_recipe(recipe_name), RunFlags(demo=demo, overrides=settings))
        pairs, summary = load_pairs(
            cfg.data_format,
            cfg.dataset,
            split=getattr(cfg, "split", None) or None,
            subset=getattr(cfg, "subset", "") or None,
            options=config_options(cfg),
        )
        if max_rows and len(pairs) > max_rows:
            pairs = pairs.select(range(max_rows))
        report = inspect_pairs(pairs, _tokenizer_for(cfg), cfg.max_length, preview=preview)
        summary_text = summary.format(explanations(get_format(cfg.data_format)))
        if as_json:
            print(json.dumps({"conversion": summary.to_dict(), **report}, indent=2, ensure_ascii=False))
        else:
            print(format_report(report, summary_text))

    _exit(action, debug)


def _tokenizer_for(cfg):
    from transformers import AutoTokenizer

    from trlrecipes.models import resolve_model

    try:
        return AutoTokenizer.from_pretrained(resolve_model(cfg.model), trust_remote_code=cfg.trust_remote_code)
    except OSError as err:
        raise UserError(
            f"could not load the tokenizer of model {cfg.model!r} ({str(err).splitlines()[0]}); "
            f"pass model=<local folder> or check your network"
        ) from err


@data_app.command("convert", epilog="Each format's options, with types and defaults: trlrecipes data formats")
def data_convert(
    data_format: str = typer.Argument(
        ..., metavar="FORMAT", help="hh-rlhf, ultrafeedback, ... (see `trlrecipes data formats`)"
    ),
    input: Optional[str] = typer.Option(
        None, "--input", help="Local file or Hub dataset id (default: the format's Hub dataset)."
    ),
    output: Optional[Path] = typer.Option(None, "--output", help="Write converted rows as JSON lines."),
    report: Optional[Path] = typer.Option(None, "--report", help="Write the summary as JSON."),
    split: Optional[str] = typer.Option(
        None, "--split", help="Hub split (default: the format's own, e.g. train_prefs for ultrafeedback)."
    ),
    subset: Optional[str] = typer.Option(None, "--subset", help="Hub data_dir, e.g. helpful-base."),
    options: Optional[list[str]] = typer.Argument(None, help="Converter options as key=value, e.g. keep_ties=true."),
) -> None:
    """Convert a dataset to TRL's conversational prompt/chosen/rejected format, with a skip summary."""

    def action():

        from trlrecipes.data import explanations, get_format, load_pairs

        for path, option in ((output, "--output"), (report, "--report")):
            if path:  # before the conversion, which can take minutes
                check_writable(path, f"{option} {path}", folder=False)
        fmt = get_format(data_format)
        dataset, summary = load_pairs(data_format, input, split=split, subset=subset, options=_key_values(options))
        if getattr(fmt, "NOTICE", None):
            print(fmt.NOTICE, file=sys.stderr)
        from trlrecipes import files

        if output:
            output.parent.mkdir(parents=True, exist_ok=True)
            files.write_jsonl(output, dataset)
        print(summary.format(explanations(fmt)))
        if output:
            print(f"wrote {len(dataset)} rows to {output}")
        if report:
            files.write_json(report, summary.to_dict())

    _exit(action)


@data_app.command("formats")
def data_formats(
    name: Optional[str] = typer.Argument(None, metavar="[FORMAT]", help="Show only this format."),
) -> None:
    """The data formats: Hub dataset, splits and converter options (key=value for `data convert`, recipe settings)."""

    def action():
        from trlrecipes.data import FORMATS, format_options, get_format

        if name is not None:
            get_format(name)  # an unknown name is a UserError listing the known ones
        for index, format_name in enumerate([name] if name else list(FORMATS)):
            fmt = get_format(format_name)
            if fmt.HUB_ID:
                held_out = getattr(fmt, "EVAL_SPLIT", None) or "none"
                where = f"Hub {fmt.HUB_ID}, split {getattr(fmt, 'DEFAULT_SPLIT', 'train')}, eval split {held_out}"
            else:
                where = "no Hub dataset: pass a file"
            print(("\n" if index else "") + f"{format_name}  ({where})")
            if getattr(fmt, "SUBSETS", None):
                print(f"  --subset (Hub data_dir): {', '.join(fmt.SUBSETS)}")
            rows = [
                (
                    f"{option_name}={option.default!r}",
                    " | ".join(option.choices) if option.choices else option.type.__name__,
                    option.help,
                )
                for option_name, option in format_options(fmt).items()
            ]
            widths = [max((len(row[column]) for row in rows), default=0) for column in (0, 1)]
            for setting, kind, help_text in rows:
                print(f"  {setting:<{widths[0]}}  {kind:<{widths[1]}}  {help_text}")
            if not rows:
                print("  no options")

    _exit(action)


def _key_values(items: Optional[list[str]]) -> dict:
    result = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"bad converter option {item!r}: use key=value")
        result[key] = value
    return result


def main() -> None:
    """The console entry point: a usage error (a missing argument, a mistyped option or command) is one line and
    exit 2, like every other error the user can fix, instead of the boxed block typer prints."""
    from typer.exceptions import TyperException  # typer's base of its (vendored) click exceptions

    try:
        code = app(standalone_mode=False, prog_name="trlrecipes")
    except typer.Abort:
        print("interrupted", file=sys.stderr)
        code = 130
    except TyperException as err:
        if type(err).__name__ == "NoArgsIsHelpError":  # `trlrecipes` or `trlrecipes data` alone: their help
            print(err.ctx.get_help())
            code = 0
        else:
            context = getattr(err, "ctx", None)
            where = context.command_path if context is not None else "trlrecipes"
            print(f"error: {' '.join(err.format_message().split())} (see `{where} --help`)", file=sys.stderr)
            code = getattr(err, "exit_code", 2)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
