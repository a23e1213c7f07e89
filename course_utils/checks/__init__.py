"""Exercise checkers, one module per notebook: each runs the student's function on several small, fully
known cases, names the likely mistake with a hint when it is wrong, and prints one line when it is right.

    sft_data        01  check_loss_token_share
    loss            02  check_sft_loss, check_response_mask
    loop            03  check_sft_step, check_accumulate_grads (and reference_sft_step, the step it compares with)
    forgetting      04  check_replay_mix, check_forgetting_choice
    generalization  05  check_people_split
    data_quality    06  check_leak_rule
    trl             07  check_labels_loss
    common              CheckFailed (what a checker raises), hint (graded hints), and what the checkers share

Stuck on an exercise? `hint("sft_step")` prints its first hint; calling it again prints the next.

A notebook imports a checker from here: `from course_utils.checks import check_sft_loss`.
"""
from .common import MASK_CASES, CheckFailed, hint
from .data_quality import check_leak_rule
from .forgetting import check_forgetting_choice, check_replay_mix
from .generalization import check_people_split
from .loop import check_accumulate_grads, check_sft_step, reference_sft_step
from .masked_loss import check_response_mask, check_sft_loss
from .sft_data import check_loss_token_share
from .trl import check_labels_loss

__all__ = ["CheckFailed", "MASK_CASES", "check_accumulate_grads", "check_forgetting_choice", "check_labels_loss", "check_leak_rule",
           "check_loss_token_share", "check_people_split", "check_replay_mix", "check_response_mask",
           "check_sft_loss", "check_sft_step", "hint", "reference_sft_step"]
