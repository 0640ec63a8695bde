"""Typed failures of LLM calls, split by whether a retry can help.

Each error carries a stable `code` (sent to the browser as the websocket error code), whether a
retry may succeed, and a `user_message` safe to show a participant. The exception text itself is
for logs and the LLMCall row, and may hold provider details.
"""


class LLMError(Exception):
    code: str = "llm_error"
    retryable: bool = False
    user_message: str = "Something went wrong with the AI interviewer."

    def __init__(self, message: str = "", *, user_message: str | None = None) -> None:
        super().__init__(message or self.user_message)
        if user_message is not None:
            self.user_message = user_message
        self.llm_call_id: int | None = None  # the LLMCall row recording this failure, if any


class LLMNotConfigured(LLMError):
    code = "llm_not_configured"
    user_message = "The AI interviewer is not set up yet. Please contact the study organisers."


class LLMUnavailable(LLMError):
    code = "llm_unavailable"
    retryable = True
    user_message = "The AI interviewer is not responding right now. Please try again in a moment."


class LLMRequestRejected(LLMError):
    code = "llm_rejected"
    user_message = (
        "The AI interviewer could not handle this request. "
        "Please try again later or contact the study organisers."
    )


class LLMStreamInterrupted(LLMUnavailable):
    code = "llm_interrupted"
    user_message = "The interviewer's reply was cut off. You can ask it to try again."

    def __init__(
        self, message: str = "", *, partial_text: str = "", user_message: str | None = None
    ) -> None:
        super().__init__(message, user_message=user_message)
        self.partial_text = partial_text


class LLMBudgetExceeded(LLMError):
    code = "llm_budget"
    user_message = (
        "This study has used up its AI budget, so the interviewer cannot reply. "
        "Please contact the study organisers."
    )


class LLMOutputInvalid(LLMError):
    code = "llm_output_invalid"
    user_message = "The AI interviewer produced an answer we could not use. Please try again."


class LLMInterviewCapReached(LLMBudgetExceeded):
    """The interview has used its own token allowance; the guided form finishes it."""

    code = "llm_interview_cap"
    user_message = (
        "This conversation has reached its length limit. Everything you wrote is saved; "
        "you can finish with a short guided form."
    )


class LLMMessageCapReached(LLMError):
    """The interviewer already answered (or tried to answer) this message often enough."""

    code = "llm_message_cap"
    user_message = (
        "The interviewer has already tried to answer this message several times. "
        "Please write your next message."
    )
