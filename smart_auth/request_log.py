"""Request logs without query strings: authorization codes, states and tokens never reach a log.

RFC 6749 section 10.5 (https://www.rfc-editor.org/rfc/rfc6749#section-10.5): authorization codes
and tokens are confidential, so the werkzeug request log keeps the path and drops the query.
"""

import logging
import re

_QUERY = re.compile(r"(\s/[^\s?\"]*)\?[^\s\"]*")
REDACTED = "?[query hidden]"

# gunicorn's access log: path without query (%(U)s), no referer (it may carry one too).
GUNICORN_ACCESS_FORMAT = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s'


class DropQueryStrings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _QUERY.sub(lambda m: m.group(1) + REDACTED, message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def install() -> None:
    """Filter the werkzeug request log (development and test servers), once per process.

    authlib logs whole token responses at DEBUG ("Issue token {...}"): its loggers stop at INFO
    whatever the root level.
    """
    logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, DropQueryStrings) for f in logger.filters):
        logger.addFilter(DropQueryStrings())
    logging.getLogger("authlib").setLevel(logging.INFO)
