"""Why an event failed, as the consumer records it: one short line, never a secret."""

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.errors import StripeUnavailable
from chalicelib.domain.failures import MAX_REASON_LENGTH, failure_reason

secrets = st.one_of(
    st.from_regex(r"(sk|rk|pk)_(test|live)_[A-Za-z0-9]{8,40}", fullmatch=True),
    st.from_regex(r"whsec_[A-Za-z0-9]{8,40}", fullmatch=True),
    st.from_regex(r"pi_[A-Za-z0-9]{10}_secret_[A-Za-z0-9]{8,30}", fullmatch=True),
    st.from_regex(r"[Bb]earer [A-Za-z0-9._-]{8,40}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9]{40,80}", fullmatch=True),
)
words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)


@given(before=words, secret=secrets, after=words)
def test_a_secret_anywhere_in_the_message_never_reaches_the_reason(before, secret, after):
    reason = failure_reason(RuntimeError(f"{before} {secret} {after}"))
    assert secret.split()[-1] not in reason
    assert reason.startswith("RuntimeError")
    assert len(reason) <= MAX_REASON_LENGTH and "\n" not in reason


def test_a_plain_message_is_kept_on_one_line():
    error = StripeUnavailable("Stripe unreachable:\n  connection refused")
    assert failure_reason(error) == "StripeUnavailable: Stripe unreachable: connection refused"
    assert failure_reason(KeyError()) == "KeyError"
