"""What `trlrecipes run RECIPE --demo` prints after training: held-out accuracy against the reference and a
few fixed prompts answered before and after, so a newcomer sees that preference training changed the model."""

from __future__ import annotations

from trlrecipes.errors import RunStopped


def demo_learned(result: dict) -> bool:
    """The demo is broken unless held-out preference moved the right way."""
    if result["method"] in ("ORPO", "SimPO"):  # reference-free: against the base model's own preference
        return result["accuracy"] > result["base_accuracy"]
    if result["method"] == "SFT":  # the chosen replies became more likely
        return result["chosen_nll"] < result["base_chosen_nll"]
    return result["accuracy"] > 0.5 and result["margin"] > 0


def report_demo(run, *, strict: bool = True, max_new_tokens: int = 48) -> dict:
    """Evaluate and show before/after answers. `strict` (the full demo budget): exit 1 unless it learned; with
    a shortened budget (e.g. max_steps overridden) only warn."""
    from trlrecipes.demo import DEMO_PROMPTS
    from trlrecipes.tools.evaluate import (
        evaluate_run,
        format_metrics,
        load_policy,
        load_run_config,
        run_method,
        save_metrics,
    )
    from trlrecipes.tools.generate import format_answers, generate_answers

    is_judge = run_method(run.dir) == "RM"  # a reward model scores replies; it does not write them
    loaded = None if is_judge else load_policy(run.dir, load_run_config(run.dir))
    result = evaluate_run(run.dir, model_and_tokenizer=loaded)
    save_metrics(run.dir, result)
    print("\n== held-out evaluation ==\n" + format_metrics(result))
    answers = [] if is_judge else generate_answers(run.dir, DEMO_PROMPTS, compare=True, max_new_tokens=max_new_tokens,
                               model_and_tokenizer=loaded)
    if answers:
        print("\n== before (reference) and after (trained adapter) ==\n" + format_answers(answers))
    if not demo_learned(result):
        if not strict:
            print("\nnote: held-out accuracy did not rise above the reference with this shortened budget")
            return result
        raise RunStopped("the demo did not learn: held-out accuracy did not rise above the reference; this is a bug, "
                         "please report it with the run folder", exit_code=1)
    print(f"\nrun folder: {run.dir}  (try: trlrecipes eval {run.dir}; trlrecipes generate {run.dir} --prompt '...' "
          f"--compare)")
    return result
