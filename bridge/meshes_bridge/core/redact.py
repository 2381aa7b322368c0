"""Redaction: the one place that turns secrets into a placeholder before anything is logged."""

REDACTED = "[redacted]"
# Fields that carry credentials in any message or response we might describe.
SECRET_KEYS = ("token", "access_token", "launch", "launch_token", "authorization")


def redact(text: str, secrets: "list[str]") -> str:
    """Replace every occurrence of each known secret in `text`."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


def redact_fields(obj: object) -> object:
    """A copy of a decoded JSON value with credential-named fields blanked, for debug logs."""
    if isinstance(obj, dict):
        out: dict[object, object] = {}
        for key in obj:
            if isinstance(key, str) and key.lower() in SECRET_KEYS:
                out[key] = REDACTED
            else:
                out[key] = redact_fields(obj[key])
        return out
    if isinstance(obj, list):
        return [redact_fields(item) for item in obj]
    return obj
