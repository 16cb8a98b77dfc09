"""smart_auth.request_log: request lines are logged without their query strings."""

import logging

from smart_auth import request_log


def test_werkzeug_request_line_loses_its_query(caplog):
    request_log.install()
    logger = logging.getLogger("werkzeug")
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        logger.info(
            '127.0.0.1 - - [x] "%s" %s %s',
            "GET /auth/authorize?code=SECRETCODE&state=abc HTTP/1.1",
            302,
            "-",
        )
    (message,) = [r.getMessage() for r in caplog.records]
    assert "SECRETCODE" not in message
    assert '"GET /auth/authorize?[query hidden] HTTP/1.1" 302' in message


def test_installing_twice_adds_one_filter():
    request_log.install()
    request_log.install()
    filters = logging.getLogger("werkzeug").filters
    assert sum(isinstance(f, request_log.DropQueryStrings) for f in filters) == 1


def test_gunicorn_access_format_has_no_query_or_referer():
    assert "%(r)s" not in request_log.GUNICORN_ACCESS_FORMAT
    assert "%(q)s" not in request_log.GUNICORN_ACCESS_FORMAT
    assert "%(f)s" not in request_log.GUNICORN_ACCESS_FORMAT


def test_authlib_debug_lines_carrying_tokens_are_silenced():
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        request_log.install()
        assert not logging.getLogger("authlib.oauth2.rfc6749.grants").isEnabledFor(logging.DEBUG)
    finally:
        logging.getLogger().setLevel(logging.WARNING)
