"""The hub's login: NativeAuthenticator (sign-up + admin approval) with the hardening it lacks.

:class:`SatCO2Authenticator` is configured in ``hub-config/jupyterhub_config.py`` from the
``hub.login`` section of ``hub-config/settings.yaml``. On top of NativeAuthenticator 1.3 it gives:

- **back-off**: after ``max_failures`` wrong passwords for a name, that name must wait
  ``backoff_seconds``, doubled after each further failure up to ``max_backoff_seconds``
  (:func:`backoff_wait`); the page says how long. Unknown names are counted the same way, so the
  lock reveals nothing. (NativeAuthenticator's own ``allowed_failed_logins`` is a fixed wait, only
  for known names, and says "Invalid username or password" while locked.)
- **the same cost for unknown names**: a wrong name is checked against a dummy bcrypt hash of the
  same cost, so timing does not tell which names exist (NativeAuthenticator answers at once for an
  unknown name and hashes twice for a known one);
- **bcrypt off the event loop**: every hash runs in a small thread pool (``hash_threads``), so
  logins do not stall the hub's API (bcrypt releases the GIL);
- **passwords longer than 72 bytes** (bcrypt's limit, an HTTP 500 before) are refused with one
  sentence at sign-up, at login and on the change-password pages;
- **user names**: sign-up accepts only names a system account can have (:data:`USERNAME`, the
  rule of :func:`satco2.hub.hooks.ensure_system_user`) and refuses reserved names (the project's
  author names such as ``examples``, the admin's, the services', and every existing system
  account), each with one sentence;
- **the admin account** is created at start from ``<state>/admin_password`` (written by the
  launcher before the hub starts), so nobody can sign up under the admin's name first;
- a login POST without ``_xsrf`` gets the login page with HTTP 403 (NativeAuthenticator's
  ``_render`` raised a TypeError there).

The login and sign-up pages are the project's templates ``satco2-login.html`` and
``satco2-signup.html`` (``hub-config/templates``), which extend NativeAuthenticator's.
"""
from __future__ import annotations

import asyncio
import math
import pwd
import re
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import bcrypt
from jinja2 import ChoiceLoader, FileSystemLoader
from nativeauthenticator import NativeAuthenticator
from nativeauthenticator import handlers as native
from nativeauthenticator.orm import UserInfo
from tornado import web
from tornado.escape import url_escape
from tornado.httputil import url_concat
from traitlets import Bool, Float, Integer, Set, Unicode

from .hooks import USERNAME  # names a hub user may have (one rule, see hooks)

#: bcrypt hashes only the first 72 bytes of a password and bcrypt>=5 refuses longer ones
MAX_PASSWORD_BYTES = 72

MSG_INVALID = "Invalid username or password."
MSG_TOO_LONG_LOGIN = (f"Passwords on this hub are at most {MAX_PASSWORD_BYTES} bytes long, "
                      "so this one cannot be right.")
MSG_TOO_LONG_SIGNUP = (f"A password may be at most {MAX_PASSWORD_BYTES} bytes long "
                       "(the limit of the bcrypt hash); choose a shorter one.")
MSG_NAME_RULE = ("A user name must start with a lowercase letter and have at most 31 characters "
                 "from a-z, 0-9, _ and -, because each hub user gets a system account of that name.")


def backoff_wait(failures: int, max_failures: int, base: float, cap: float) -> float:
    """Seconds a name must wait after its ``failures``-th consecutive failed login.

    Nothing below ``max_failures``; from there ``base`` seconds, doubled with each further
    failure, never more than ``cap``.
    """
    if failures < max_failures:
        return 0.0
    return float(min(cap, base * 2.0 ** min(failures - max_failures, 64)))


class SatCO2Authenticator(NativeAuthenticator):
    """NativeAuthenticator with back-off, constant-cost checks, reserved names (module docstring)."""

    max_failures = Integer(
        5, config=True, help="Consecutive wrong passwords for one name before it must wait.")
    backoff_seconds = Float(
        30.0, config=True, help="First wait after max_failures failures; doubles with each further one.")
    max_backoff_seconds = Float(3600.0, config=True, help="Longest wait.")
    hash_threads = Integer(
        2, config=True, help="Threads that run bcrypt, off the hub's event loop.")
    reserved_usernames = Set(
        Unicode(), config=True,
        help="Names nobody may sign up for (author names, the admin's, the services').")
    reserve_system_accounts = Bool(
        True, config=True,
        help="Refuse to sign up a name that an existing system account has (getent passwd).")
    admin_password_file = Unicode(
        "", config=True,
        help="File holding the admin's password; the admin account is created from it when missing.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._failures: dict[str, tuple[int, float]] = {}  # name -> (count, monotonic time of last)
        self._executor = ThreadPoolExecutor(self.hash_threads, thread_name_prefix="satco2-bcrypt")
        # an unknown name is checked against this hash: the same cost as a real check
        self._dummy_hash = bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt())
        self._create_admin()

    # --- the admin account -------------------------------------------------------------------
    def _create_admin(self) -> None:
        path = Path(self.admin_password_file) if self.admin_password_file else None
        if path is None or not path.exists():
            return
        for name in self.admin_users:
            if self.get_user(name) is None:
                password = path.read_text().strip()
                self.db.add(UserInfo(username=name, is_authorized=True,
                                     password=bcrypt.hashpw(password.encode(), bcrypt.gensalt())))
                self.db.commit()
                self.log.info("created the admin account %s from %s", name, path)

    # --- hashing, off the event loop -------------------------------------------------------------
    async def _run(self, func, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, func, *args)

    async def check_password(self, password: str, stored: bytes | None) -> bool:
        """bcrypt check in the thread pool; ``stored=None`` (unknown name) costs the same."""
        ok = await self._run(bcrypt.checkpw, password.encode(), stored or self._dummy_hash)
        return bool(ok and stored)

    async def hash_password(self, password: str) -> bytes:
        return await self._run(lambda: bcrypt.hashpw(password.encode(), bcrypt.gensalt()))

    # --- back-off ----------------------------------------------------------------------------------
    def seconds_to_wait(self, username: str) -> float:
        count, last = self._failures.get(username, (0, 0.0))
        wait = backoff_wait(count, self.max_failures, self.backoff_seconds, self.max_backoff_seconds)
        return max(0.0, last + wait - time.monotonic())

    def _failed(self, username: str) -> None:
        now = time.monotonic()
        if len(self._failures) > 10000:  # forget names whose longest wait is over
            self._failures = {k: v for k, v in self._failures.items()
                              if now - v[1] < self.max_backoff_seconds}
        count = self._failures.get(username, (0, 0.0))[0]
        self._failures[username] = (count + 1, now)

    # --- login -------------------------------------------------------------------------------------
    async def authenticate(self, handler, data):
        """The user's name, or None with the reason in ``handler.satco2_login_error``."""
        username = self.normalize_username(data.get("username") or "")
        password = data.get("password") or ""

        def refuse(message):
            if handler is not None:
                handler.satco2_login_error = message

        wait = self.seconds_to_wait(username)
        if wait > 0:
            return refuse(f"Too many failed logins for this name: wait {math.ceil(wait)} s, then try again.")
        if len(password.encode()) > MAX_PASSWORD_BYTES:
            self._failed(username)
            return refuse(MSG_TOO_LONG_LOGIN)
        user = self.get_user(username) if username else None
        ok = await self.check_password(password, user.password if user else None)
        if ok and user.has_2fa and not user.is_valid_token(data.get("2fa")):
            ok = False
        if not ok:
            self._failed(username)
            return refuse(MSG_INVALID)
        if not user.is_authorized:
            return refuse(f"User {username} has not been authorized by an administrator yet.")
        self._failures.pop(username, None)
        return username

    # --- names ---------------------------------------------------------------------------------------
    def validate_username(self, username):
        return bool(USERNAME.match(username)) and super().validate_username(username)

    def signup_name_problem(self, username: str) -> str | None:
        """One sentence saying why ``username`` (normalized) cannot be signed up, or None."""
        if not username:
            return "Choose a user name."
        if not self.validate_username(username):
            return MSG_NAME_RULE
        if username in self.reserved_usernames or username in self.admin_users:
            return f"The name {username} is reserved for the hub itself; choose another."
        if self.user_exists(username):
            return f"The name {username} is already taken; choose another."
        if self.reserve_system_accounts:
            try:
                pwd.getpwnam(username)
            except KeyError:
                pass
            else:
                return (f"The name {username} belongs to a system account of this machine, "
                        "so it is reserved; choose another.")
        return None

    def signup_password_problem(self, password: str, confirmation: str) -> str | None:
        """One sentence saying why ``password`` cannot be used, or None."""
        if len(password.encode()) > MAX_PASSWORD_BYTES:
            return MSG_TOO_LONG_SIGNUP
        if not self.is_password_strong(password):
            return (f"A password needs at least {self.minimum_password_length} characters "
                    "and must not be a common one.")
        if password != confirmation:
            return "The password and its confirmation differ; type them again."
        return None

    # --- bcrypt's 72 bytes in NativeAuthenticator's own synchronous paths ----------------------------
    def create_user(self, username, password, **kwargs):
        if len(password.encode()) > MAX_PASSWORD_BYTES:
            return None
        return super().create_user(username, password, **kwargs)

    def change_password(self, username, new_password):
        if len(new_password.encode()) > MAX_PASSWORD_BYTES:
            return None
        return super().change_password(username, new_password)

    async def store_account(self, username, password, email="", has_2fa=False) -> UserInfo:
        """Store a new account (name and password already checked), hashing off the event loop."""
        info = UserInfo(username=username, password=await self.hash_password(password),
                        email=email or None, has_2fa=has_2fa,
                        is_authorized=bool(self.open_signup or username in self.allowed_users))
        self.db.add(info)
        self.db.commit()
        return info

    def get_handlers(self, app):
        ours = {"/login": LoginHandler, "/signup": SignUpHandler,
                "/change-password": ChangePasswordHandler,
                "/change-password/([^/]+)": ChangePasswordAdminHandler}
        return [(path, ours.get(path, handler)) for path, handler in super().get_handlers(app)]


class LoginHandler(native.LoginHandler):
    """The branded login page; one-sentence errors; no second bcrypt; a clean 403 without _xsrf."""

    satco2_login_error = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # NativeAuthenticator adds its templates to the asynchronous Jinja environment only;
        # JupyterHub renders a form error (a missing _xsrf) with the synchronous one
        env = self.settings.get("jinja2_env_sync")
        if env is not None and not getattr(env, "satco2_native_templates", False):
            env.loader = ChoiceLoader([env.loader, FileSystemLoader([native.TEMPLATE_DIR])])
            env.satco2_native_templates = True

    def _render(self, login_error=None, username=None, sync=False, **kwargs):
        # JupyterHub renders a form error (e.g. a missing _xsrf) through here, synchronously and
        # with the error page's keywords, which NativeAuthenticator's _render did not accept
        return self.render_template(
            "satco2-login.html",
            sync=sync,
            next=url_escape(self.get_argument("next", default="")),
            username=username,
            login_error=login_error,
            custom_html=self.authenticator.custom_html,
            login_url=self.settings["login_url"],
            enable_signup=self.authenticator.enable_signup,
            two_factor_auth=self.authenticator.allow_2fa,
            authenticator_login_url=url_concat(
                self.authenticator.login_url(self.hub.base_url),
                {"next": self.get_argument("next", "")},
            ),
        )

    async def post(self):
        data = {arg: self.get_argument(arg, strip=arg == "username")
                for arg in self.request.body_arguments if arg != "_xsrf"}
        user = await self.login_user(data)
        if user:
            self._jupyterhub_user = user
            self.redirect(self.get_next_url(user))
            return
        username = data.get("username", "")
        self.set_status(403)
        html = await self._render(login_error=self.satco2_login_error or MSG_INVALID,
                                  username=username[:64])
        self.finish(html)


class SignUpHandler(native.SignUpHandler):
    """The branded sign-up page; each refusal in one sentence; bcrypt off the event loop."""

    async def _page(self, message=None, alert=None, user=None):
        a = self.authenticator
        return await self.render_template(
            "satco2-signup.html", ask_email=a.ask_email_on_signup, result_message=message,
            alert=alert, two_factor_auth=a.allow_2fa, recaptcha_key=None, tos=a.tos,
            two_factor_auth_user=bool(user and user.has_2fa),
            two_factor_auth_value=user.otp_secret if user else "")

    async def get(self):
        if not self.authenticator.enable_signup:
            raise web.HTTPError(404)
        self.finish(await self._page())

    async def post(self):
        a = self.authenticator
        if not a.enable_signup:
            raise web.HTTPError(404)
        username = a.normalize_username(self.get_body_argument("username", "", strip=False))
        password = self.get_body_argument("signup_password", "", strip=False)
        confirmation = self.get_body_argument("signup_password_confirmation", "", strip=False)
        email = self.get_body_argument("email", "", strip=False)
        problem = a.signup_name_problem(username) or a.signup_password_problem(password, confirmation)
        if problem is None and email and not re.match(r"^[A-Za-z0-9.+_-]+@[A-Za-z0-9._-]+\.[a-zA-Z]*$", email):
            problem = "The e-mail address does not look valid; check it."
        if problem:  # HTTP 200 with the message, as NativeAuthenticator answers
            self.finish(await self._page(problem, "alert-danger"))
            return
        user = await a.store_account(username, password, email=email,
                                has_2fa=bool(self.get_body_argument("2fa", "", strip=False)))
        if user.is_authorized:
            message, alert = ("The signup was successful! You can now go to the home page and "
                              "log in to the system."), "alert-success"
        else:
            message, alert = "Your information has been sent to the admin.", "alert-info"
        self.finish(await self._page(message, alert, user))


async def _new_password(handler, username: str, new: str, confirmation: str) -> str | None:
    """Store ``new`` for ``username`` (hashed off the event loop); None, or why not in one sentence."""
    a = handler.authenticator
    problem = a.signup_password_problem(new, confirmation)
    info = a.get_user(username)
    if problem or info is None:
        return problem or f"There is no account {username}."
    info.password = await a.hash_password(new)
    a.db.commit()
    return None


class ChangePasswordHandler(native.ChangePasswordHandler):
    """A user changes their password: bcrypt off the event loop, one sentence for >72 bytes."""

    @web.authenticated
    async def post(self):
        user = await self.get_current_user()
        a = self.authenticator
        old = self.get_body_argument("old_password", "", strip=False)
        info = a.get_user(user.name)
        right = len(old.encode()) <= MAX_PASSWORD_BYTES and await a.check_password(
            old, info.password if info else None)
        if not right:
            problem = "Your current password was incorrect; please try again."
        else:
            problem = await _new_password(self, user.name,
                                          self.get_body_argument("new_password", "", strip=False),
                                          self.get_body_argument("new_password_confirmation", "", strip=False))
        html = await self.render_template(
            "change-password.html", user_name=user.name,
            result_message=problem or "Your password has been changed successfully!",
            alert="alert-danger" if problem else "alert-success")
        self.finish(html)


class ChangePasswordAdminHandler(native.ChangePasswordAdminHandler):
    """An admin sets a user's password: bcrypt off the event loop, one sentence for >72 bytes."""

    @native.admin_users_scope
    async def post(self, user_name):
        problem = await _new_password(self, user_name,
                                      self.get_body_argument("new_password", "", strip=False),
                                      self.get_body_argument("new_password_confirmation", "", strip=False))
        html = await self.render_template(
            "change-password-admin.html", user_name=user_name,
            result_message=problem or f"The password for {user_name} has been changed successfully.",
            alert="alert-danger" if problem else "alert-success")
        self.finish(html)
