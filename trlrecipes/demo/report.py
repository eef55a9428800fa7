"""What `trlrecipes run RECIPE --demo` prints after training: held-out accuracy against the reference and a
few fixed prompts answered before and after, so a newcomer sees that preference training changed the model."""

from __future__ import annotations

from trlrecipes.errors import RunStopped


def demo_learned(result: dict) -> bool:
    """The demo is broken unless held-out preference moved the right way."""
    if result["method"] == "ORPO":
        return result["accuracy"] > result["base_accuracy"]
    return result["accuracy"] > 0.5 and result["margin"] > 0


ANSWERS_FILE = "demo_answers.jsonl"  # what `trlrecipes report` shows side by side (prompt, reference, trained)


def record_answers(run_dir, answers: list[dict]) -> None:
    import json
    from pathlib import Path

    with (Path(run_dir) / ANSWERS_FILE).open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in answers)


def report_demo(run, *, strict: bool = True, max_new_tokens: int = 48) -> dict:
    """Evaluate and show before/after answers. `strict` (the full demo budget): exit 1 unless it learned; with
    a shortened budget (e.g. max_steps overridden) only warn."""
    from trlrecipes.demo import DEMO_PROMPTS
    from trlrecipes.tools.evaluate import evaluate_run, format_metrics, load_policy, load_run_config, save_metrics
    from trlrecipes.tools.generate import format_answers, generate_answers

    loaded = load_policy(run.dir, load_run_config(run.dir))
    result = evaluate_run(run.dir, model_and_tokenizer=loaded)
    save_metrics(run.dir, result)
    print("\n== held-out evaluation ==\n" + format_metrics(result))
    answers = generate_answers(run.dir, DEMO_PROMPTS, compare=True, max_new_tokens=max_new_tokens,
                               model_and_tokenizer=loaded)
    print("\n== before (reference) and after (trained adapter) ==\n" + format_answers(answers))
    record_answers(run.dir, answers)
    if not demo_learned(result):
        if not strict:
            print("\nnote: held-out accuracy did not rise above the reference with this shortened budget")
            return result
        raise RunStopped("the demo did not learn: held-out accuracy did not rise above the reference; this is a bug, "
                         "please report it with the run folder", exit_code=1)
    print(f"\nrun folder: {run.dir}  (try: trlrecipes eval {run.dir}; trlrecipes generate {run.dir} --prompt '...' "
          f"--compare)")
    return result
