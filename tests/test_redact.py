"""Credentials never reach a log line: URL passwords and !secret values are masked."""

from __future__ import annotations

import logging

import pytest

from cityhub.redact import RedactingFilter, add_secret, redact


def test_url_passwords_are_masked() -> None:
    text = "opening rtsp://admin:S3cr3t!@10.1.2.3:554/main and http://u:p4ss@cam/x"
    assert redact(text) == "opening rtsp://admin:***@10.1.2.3:554/main and http://u:***@cam/x"


def test_registered_secrets_are_masked_everywhere() -> None:
    add_secret("smtp-password-1234")
    add_secret("abc")  # too short to mask without garbling the log
    assert redact("login with smtp-password-1234 failed") == "login with *** failed"
    assert redact("abc") == "abc"


def test_filter_masks_messages_arguments_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    add_secret("totally-secret-token")
    logger = logging.getLogger("cityhub.test.redact")
    handler = caplog.handler
    handler.addFilter(RedactingFilter())
    try:
        logger.warning("camera %s refused rtsp://op:pw123456@cam/s", "cam-1")
        try:
            raise RuntimeError("token totally-secret-token rejected")
        except RuntimeError:
            logger.exception("driver failed")
    finally:
        handler.removeFilter(handler.filters[-1])
    text = caplog.text
    assert "pw123456" not in text
    assert "totally-secret-token" not in text
    assert "rtsp://op:***@cam/s" in text
    assert "token *** rejected" in text
