"""Exercise checkers, one module per notebook: each runs the student's function on several small, fully
known cases, names the likely mistake with a hint when it is wrong, and prints one line when it is right.

    sft_data        01  check_loss_token_share
    masked_loss     02  check_sft_loss, check_response_mask, check_padded_batch, check_conversation_mask
    loop            03  check_sft_step, check_accumulate_grads (and reference_sft_step, the step it compares with)
    forgetting      04  check_replay_mix, check_forgetting_choice
    generalization  05  check_people_split, check_verdict
    data_quality    06  check_leak_rule, check_bad_reply_filter
    trl             07  check_labels_loss, check_pack_row
    reasoning       08  check_verify
    common              CheckFailed (what a checker raises), hint (graded hints), and what the checkers share

Stuck on an exercise? `hint("sft_step")` prints its first hint; calling it again prints the next.

A notebook imports a checker from here: `from course_utils.checks import check_sft_loss`.
"""
from .common import MASK_CASES, CheckFailed, hint
from .data_quality import check_bad_reply_filter, check_leak_rule
from .forgetting import check_forgetting_choice, check_replay_mix
from .generalization import check_people_split, check_verdict
from .loop import check_accumulate_grads, check_sft_step, reference_sft_step
from .masked_loss import check_conversation_mask, check_padded_batch, check_response_mask, check_sft_loss
from .reasoning import check_verify
from .sft_data import check_loss_token_share
from .trl import check_labels_loss, check_pack_row

# Every checker imported above, so that a new one cannot be left out of the package's names.
__all__ = ["CheckFailed", "MASK_CASES", "hint", "reference_sft_step",
           *sorted(name for name in dir() if name.startswith("check_"))]
