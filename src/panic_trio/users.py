"""Accounts as admins manage them: granting admin rights and resetting passwords.

:class:`UserMethods` is mixed into ``Panic`` (like the platform tokens and the
run history). Creating a user stays in ``Panic.create_user``, shared with the
CLI; changing one's own password, which needs the current one, is
``Panic.change_password``.
"""

from __future__ import annotations

from panic_trio.blocking import ThreadSeam
from panic_trio.domain import User
from panic_trio.security import passwords
from panic_trio.store import accounts
from panic_trio.store.store import Store


class UserMethods:
    """What an admin may do to any account (mixed into ``Panic``; callers check the admin)."""

    store: Store
    _crypto: ThreadSeam

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
