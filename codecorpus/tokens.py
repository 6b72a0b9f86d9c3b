"""Every StarCoder2 special token (StarCoder2 paper, Table 5) and the PII placeholders.

Nothing else in codecorpus spells these strings: import them from here.
"""
ENDOFTEXT = "<|endoftext|>"
FIM_PREFIX = "<fim_prefix>"
FIM_MIDDLE = "<fim_middle>"
FIM_SUFFIX = "<fim_suffix>"
FIM_PAD = "<fim_pad>"
REPO_NAME = "<repo_name>"
FILE_SEP = "<file_sep>"
ISSUE_START = "<issue_start>"
ISSUE_COMMENT = "<issue_comment>"
ISSUE_CLOSED = "<issue_closed>"
JUPYTER_START = "<jupyter_start>"
JUPYTER_TEXT = "<jupyter_text>"
JUPYTER_CODE = "<jupyter_code>"
JUPYTER_OUTPUT = "<jupyter_output>"
JUPYTER_SCRIPT = "<jupyter_script>"
EMPTY_OUTPUT = "<empty_output>"
CODE_TO_INTERMEDIATE = "<code_to_intermediate>"
INTERMEDIATE_TO_CODE = "<intermediate_to_code>"
PR = "<pr>"
PR_STATUS = "<pr_status>"
PR_IS_MERGED = "<pr_is_merged>"
PR_BASE = "<pr_base>"
PR_FILE = "<pr_file>"
PR_BASE_CODE = "<pr_base_code>"
PR_DIFF = "<pr_diff>"
PR_DIFF_HUNK = "<pr_diff_hunk>"
PR_COMMENT = "<pr_comment>"
PR_EVENT_ID = "<pr_event_id>"
PR_REVIEW = "<pr_review>"
PR_REVIEW_STATE = "<pr_review_state>"
PR_REVIEW_COMMENT = "<pr_review_comment>"
PR_IN_REPLY_TO_REVIEW_ID = "<pr_in_reply_to_review_id>"
PR_IN_REPLY_TO_COMMENT_ID = "<pr_in_reply_to_comment_id>"
PR_DIFF_HUNK_COMMENT_LINE = "<pr_diff_hunk_comment_line>"

# The 34 format tokens, in the order of the paper's Table 5.
FORMAT_TOKENS = (
    ENDOFTEXT, FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX, FIM_PAD, REPO_NAME, FILE_SEP,
    ISSUE_START, ISSUE_COMMENT, ISSUE_CLOSED,
    JUPYTER_START, JUPYTER_TEXT, JUPYTER_CODE, JUPYTER_OUTPUT, JUPYTER_SCRIPT, EMPTY_OUTPUT,
    CODE_TO_INTERMEDIATE, INTERMEDIATE_TO_CODE,
    PR, PR_STATUS, PR_IS_MERGED, PR_BASE, PR_FILE, PR_BASE_CODE, PR_DIFF, PR_DIFF_HUNK, PR_COMMENT,
    PR_EVENT_ID, PR_REVIEW, PR_REVIEW_STATE, PR_REVIEW_COMMENT, PR_IN_REPLY_TO_REVIEW_ID,
    PR_IN_REPLY_TO_COMMENT_ID, PR_DIFF_HUNK_COMMENT_LINE,
)

# PII placeholders (StarPII's replacements).
NAME = "<NAME>"
EMAIL = "<EMAIL>"
KEY = "<KEY>"
PASSWORD = "<PASSWORD>"
PII_TAGS = (NAME, EMAIL, KEY, PASSWORD)

ALL_SPECIAL_TOKENS = FORMAT_TOKENS + PII_TAGS
