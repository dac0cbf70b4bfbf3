"""Console sessions: signed, expiring, bound to the key that signed in, CSRF tokens bound to them."""

from __future__ import annotations

import time

from sagemaker_images.console.session import SessionKeys, cookie_from, cookie_header


def test_a_session_verifies_only_under_its_own_key_and_secret():
    keys = SessionKeys("console-secret")
    session, cookie = keys.issue("AKIAEXAMPLE", "key-secret")
    assert keys.verify(cookie, "key-secret")
    assert keys.read(cookie) == session
    assert not keys.verify(cookie, "rotated-secret")  # the key's secret changed: sessions end
    assert not keys.verify(cookie, "")
    assert not SessionKeys("another-console-secret").verify(cookie, "key-secret")
    version, payload, signature = cookie.split(".")
    assert not keys.verify(f"{version}.{payload}x.{signature}", "key-secret")
    assert "key-secret" not in cookie and "console-secret" not in cookie


def test_sessions_expire():
    keys = SessionKeys("s")
    _, cookie = keys.issue(now=time.time() - 13 * 3600)
    assert not keys.verify(cookie, "")


def test_csrf_tokens_are_per_session():
    keys = SessionKeys("s")
    one, _ = keys.issue()
    two, _ = keys.issue()
    token = keys.csrf_token(one, "")
    assert keys.check_csrf(one, "", token)
    assert not keys.check_csrf(two, "", token)
    assert not keys.check_csrf(one, "", "")
    assert not keys.check_csrf(one, "other", token)


def test_garbage_cookies_are_no_sessions():
    keys = SessionKeys("s")
    for cookie in ("", "v1", "v1.a.b", "v2.e30.x", "v1.!!!.x", "a.b.c.d"):
        assert keys.read(cookie) is None or not keys.verify(cookie, "")


def test_the_cookie_is_http_only_strict_and_scoped_to_the_console():
    header = cookie_header("value", secure=True).decode()
    assert header.startswith("sagemaker_images_console=value;")
    for attribute in ("Path=/console", "HttpOnly", "SameSite=Strict", "Secure"):
        assert attribute in header
    assert cookie_from("a=1; sagemaker_images_console=v1.x.y; b=2") == "v1.x.y"
