"""Accounts: creating and finding users, signing in, passwords, API keys, admin rights.

:class:`UserMethods` is mixed into ``Panic`` (like the platform tokens and the
run history). Passwords are hashed with argon2 in their own thread seam;
personal API keys are kept only as hashes.
"""

from __future__ import annotations

from typing import Any

from panic_trio.blocking import ThreadSeam
from panic_trio.domain import User
from panic_trio.errors import InvalidInput, NotFound
from panic_trio.inputs import check_email
from panic_trio.security import passwords, tokens
from panic_trio.store import accounts
from panic_trio.store.store import Store


class UserMethods:
    """Accounts (mixed into ``Panic``). Admin-only methods say so; callers check the admin."""

    store: Store
    _crypto: ThreadSeam

    async def create_user(self, email: str, password: str, *, admin: bool = False) -> User:
        """Create an account (password hashed with argon2).

        Raises:
            InvalidInput: bad email, weak password or email already taken.
        """
        email = check_email(email)
        passwords.check_password_rules(password)
        password_hash = await self._crypto.run(passwords.hash_password, password)
        return await self.store.create_user(email, password_hash, admin)

    async def authenticate(self, email: str, password: str) -> User | None:
        """The user if the password is right, else ``None`` (same cost either way)."""
        found = await self.store.user_credentials(email.strip())
        ok = await self._crypto.run(
            passwords.verify_password, found[1] if found else None, password
        )
        return found[0] if (found and ok) else None

    async def get_user(self, user_id: int) -> User:
        """The user, or :class:`NotFound`."""
        user = await self.store.get_user(user_id)
        if user is None:
            raise NotFound(f"no user with id {user_id}")
        return user

    async def find_user(self, email: str) -> User:
        """The user with this email, or :class:`NotFound`."""
        found = await self.store.user_credentials(email.strip())
        if found is None:
            raise NotFound(f"no user with email {email}")
        return found[0]

    async def end_sessions(self, user_id: int) -> User:
        """Sign the user out everywhere: every session cookie issued so far stops working."""
        return await self.store.write(accounts.end_sessions, user_id)

    async def change_password(self, user_id: int, current: str, new: str) -> User:
        """Set a new password and end every session (the caller may start a fresh one).

        Raises:
            InvalidInput: the current password is wrong, or the new one too weak.
        """
        user = await self.get_user(user_id)
        passwords.check_password_rules(new)
        if await self.authenticate(user.email, current) is None:
            raise InvalidInput("the current password is not right", field="current_password")
        password_hash = await self._crypto.run(passwords.hash_password, new)
        return await self.store.write(accounts.end_sessions, user_id, password_hash)

    async def create_api_key(self, user_id: int, name: str) -> str:
        """A new personal API key; only its hash is kept, so show it now."""
        await self.get_user(user_id)
        key = tokens.new_api_key()
        label = (name or "API key").strip()[:200]
        await self.store.write(
            accounts.insert_api_key,
            user_id,
            label,
            key[:8],
            tokens.hash_api_key(key),
            self.store.now(),
        )
        return key

    async def list_api_keys(self, user_id: int) -> list[dict[str, Any]]:
        """The user's API keys as shown on a dashboard: name, prefix, dates, never the key."""
        return await self.store.read(accounts.api_keys_of, user_id)

    async def revoke_api_key(self, user_id: int, key_id: int) -> bool:
        """Delete one of the user's API keys; ``False`` if it was not theirs."""
        return await self.store.write(accounts.delete_api_key, user_id, key_id)

    async def list_users(self) -> list[User]:
        """Every account, oldest first (admins; and ``--demo`` checks it is empty)."""
        return await self.store.read(accounts.list_users)

    async def user_for_api_key(self, key: str) -> User | None:
        """The owner of a personal API key, or ``None``."""
        return await self.store.write(
            accounts.user_by_api_key, tokens.hash_api_key(key), self.store.now()
        )

    async def set_admin(self, user_id: int, admin: bool) -> User:
        """Grant or revoke admin rights.

        Raises:
            InvalidInput: it would leave no admin (nothing changes).
            NotFound: no such user.
        """
        return await self.store.write(accounts.set_admin, user_id, admin)

    async def reset_password(self, user_id: int, new: str) -> User:
        """Set someone's password without the old one; every session of theirs ends.

        Raises:
            InvalidInput: the new password breaks the rules (nothing changes).
            NotFound: no such user.
        """
        passwords.check_password_rules(new)
        password_hash = await self._crypto.run(passwords.hash_password, new)
        return await self.store.write(accounts.end_sessions, user_id, password_hash)
