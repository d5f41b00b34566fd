"""A third-party OAuth 2.0 client (authlib) against a running Vigor.

Usage: python authlib_client.py BASE_URL

Knows nothing of Vigor but its base URL: every endpoint comes from the RFC 8414
metadata. Completes the authorization code grant with PKCE S256 (logging in on
Vigor's own login form, as a browser would), calls the API with the token, refreshes
it (rotation: the old refresh token then fails), and revokes (RFC 7009). Prints one
line per check and a closing "N passed, N failed"; exits 1 on any failure.
"""

import re
import secrets
import sys
import time
import urllib.parse

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.integrations.base_client.errors import OAuthError

BASE = sys.argv[1].rstrip("/")
REDIRECT_URI = "http://127.0.0.1:53682/callback"
PASSWORD = "a long and unguessable passphrase"
passed = failed = 0


def check(name, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def login_form(http, url, email):
    """Shows the login page of the authorization request `url` (the session keeps
    its cookie) and fills in the form: the request, the page's anti-CSRF token
    and the credentials."""
    page = http.get(url, allow_redirects=False, timeout=10)
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    if token:
        params["csrf_token"] = token.group(1)
    params.update({"email": email, "password": PASSWORD})
    return page, params


def main():
    http = requests.Session()
    http.trust_env = False

    meta = http.get(f"{BASE}/.well-known/oauth-authorization-server", timeout=10).json()
    check("metadata names the endpoints",
          all(k in meta for k in ("issuer", "authorization_endpoint", "token_endpoint", "revocation_endpoint")),
          str(meta))
    check("metadata offers PKCE S256", "S256" in meta.get("code_challenge_methods_supported", []))

    email = f"authlib-{secrets.token_hex(4)}@example.org"
    signup = http.post(f"{BASE}/v1/auth/signup", timeout=10,
                       json={"email": email, "password": PASSWORD, "display_name": "Authlib User"})
    check("sign-up", signup.status_code == 201, signup.text)

    client = OAuth2Session(client_id="vigor-web", redirect_uri=REDIRECT_URI,
                           code_challenge_method="S256")
    client.trust_env = False
    verifier = generate_token(64)
    url, state = client.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier)

    # Posting the form without the page's anti-CSRF token is refused.
    forged = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    forged.update({"email": email, "password": PASSWORD})
    refused = requests.post(meta["authorization_endpoint"], data=forged, allow_redirects=False, timeout=10)
    check("a login post without the form's token is refused", refused.status_code == 403,
          str(refused.status_code))

    # The browser shows the login page, the user submits it.
    page, params = login_form(http, url, email)
    check("the login page renders", page.status_code == 200 and "<form" in page.text, str(page.status_code))
    check("the login form carries an anti-CSRF token", "csrf_token" in params)
    login = http.post(meta["authorization_endpoint"], data=params, allow_redirects=False, timeout=10)
    location = login.headers.get("location", "")
    check("login redirects to the client with a code",
          login.status_code in (302, 303) and location.startswith(REDIRECT_URI) and "code=" in location,
          f"{login.status_code} {location} {login.text[:200]}")

    token = client.fetch_token(meta["token_endpoint"], authorization_response=location,
                               code_verifier=verifier, state=state)
    check("code exchanged for tokens", "access_token" in token and "refresh_token" in token, str(token))

    # The token works on the API (the profile arrives from the sign-up event).
    for _ in range(100):
        me = client.get(f"{BASE}/v1/users/me", timeout=10)
        if me.status_code == 200:
            break
        time.sleep(0.1)
    check("the access token opens the API", me.status_code == 200 and me.json().get("email") == email,
          f"{me.status_code} {me.text[:200]}")

    first_refresh = token["refresh_token"]
    refreshed = client.refresh_token(meta["token_endpoint"], refresh_token=first_refresh)
    check("refresh gives new tokens",
          refreshed.get("access_token") not in (None, token["access_token"])
          and refreshed.get("refresh_token") not in (None, first_refresh), str(refreshed))

    try:
        client.refresh_token(meta["token_endpoint"], refresh_token=first_refresh)
        check("a rotated refresh token is refused", False, "it was accepted")
    except OAuthError as e:
        check("a rotated refresh token is refused", e.error == "invalid_grant", e.error)

    # Reuse revoked the whole family: the newest refresh token is dead too.
    try:
        client.refresh_token(meta["token_endpoint"], refresh_token=refreshed["refresh_token"])
        check("reuse revoked the family", False, "the newer token still works")
    except OAuthError as e:
        check("reuse revoked the family", e.error == "invalid_grant", e.error)

    # A fresh login, then revocation (RFC 7009).
    url, state = client.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier)
    _, params = login_form(http, url, email)
    login = http.post(meta["authorization_endpoint"], data=params, allow_redirects=False, timeout=10)
    token = client.fetch_token(meta["token_endpoint"], authorization_response=login.headers["location"],
                               code_verifier=verifier, state=state)
    revoked = client.revoke_token(meta["revocation_endpoint"], token=token["refresh_token"],
                                  token_type_hint="refresh_token")
    check("revocation answers 200", revoked.status_code == 200, str(revoked.status_code))
    try:
        client.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
        check("a revoked refresh token is refused", False, "it was accepted")
    except OAuthError as e:
        check("a revoked refresh token is refused", e.error == "invalid_grant", e.error)


try:
    main()
except Exception as e:  # a crash is a failure, with its reason
    failed += 1
    print(f"FAIL unexpected error: {e!r}")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
