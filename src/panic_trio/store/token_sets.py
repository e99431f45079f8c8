"""Sync queries for named token sets: owned, shared with other users, chosen per network.

A set belongs to the user who made it (``token_sets.user_id``); only they
change its tokens, name and members, or delete it. Members it is shared with
(``token_set_members``) may choose it for their own networks and see its
tokens masked. A network with a chosen set (``networks.token_set_id``) uses
that set's tokens only, while its owner may still use the set; a network
with none takes each token from the first of its owner's own sets that has
it (as before sets had names).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, exists, func, insert, or_, select, update

from panic_trio.errors import InvalidInput, NotFound
from panic_trio.store.schema import (
    networks,
    platform_tokens,
    token_set_members,
    token_sets,
    users,
)

MAX_SETS = 50  # per owner


def _may_use(user_id: Any) -> Any:
    """SQL: the user owns the set or it is shared with them."""
    return or_(
        token_sets.c.user_id == user_id,
        exists().where(
            token_set_members.c.token_set_id == token_sets.c.id,
            token_set_members.c.user_id == user_id,
        ),
    )


def _owned(conn: Connection, user_id: int, set_id: int) -> Any:
    """The set if ``user_id`` owns it, else ``NotFound`` (someone else's set is not there)."""
    row = conn.execute(
        select(token_sets).where(token_sets.c.id == set_id, token_sets.c.user_id == user_id)
    ).first()
    if row is None:
        raise NotFound(f"no token set {set_id}")
    return row


def _check_name_free(conn: Connection, user_id: int, name: str, but: int | None = None) -> None:
    query = select(token_sets.c.id).where(
        token_sets.c.user_id == user_id, func.lower(token_sets.c.name) == name.lower()
    )
    if but is not None:
        query = query.where(token_sets.c.id != but)
    if conn.execute(query).first() is not None:
        raise InvalidInput(f"you already have a token set named “{name}”", field="name")


def sets_for(conn: Connection, user_id: int) -> list[dict[str, Any]]:
    """The sets the user owns or was given, oldest first, with owner, members and ciphertexts."""
    rows = conn.execute(
        select(token_sets, users.c.email.label("owner_email"))
        .join(users, users.c.id == token_sets.c.user_id)
        .where(_may_use(user_id))
        .order_by(token_sets.c.id)
    ).all()
    ids = [r.id for r in rows]
    members: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    tokens: dict[int, dict[str, bytes]] = {i: {} for i in ids}
    if ids:
        for m in conn.execute(
            select(token_set_members.c.token_set_id, users.c.id, users.c.email)
            .join(users, users.c.id == token_set_members.c.user_id)
            .where(token_set_members.c.token_set_id.in_(ids))
            .order_by(users.c.email)
        ):
            members[m.token_set_id].append({"id": m.id, "email": m.email})
        for t in conn.execute(
            select(
                platform_tokens.c.token_set_id, platform_tokens.c.name, platform_tokens.c.ciphertext
            ).where(platform_tokens.c.token_set_id.in_(ids))
        ):
            tokens[t.token_set_id][t.name] = bytes(t.ciphertext)
    return [
        {
            "id": r.id,
            "name": r.name,
            "owner_id": r.user_id,
            "owner_email": r.owner_email,
            "mine": r.user_id == user_id,
            "created_at": r.created_at,
            "members": members[r.id],
            "tokens": tokens[r.id],
        }
        for r in rows
    ]


def create_set(conn: Connection, user_id: int, name: str, now: datetime) -> int:
    """A new empty set owned by the user (names are unique per owner, any case)."""
    _check_name_free(conn, user_id, name)
    count = conn.execute(
        select(func.count()).select_from(token_sets).where(token_sets.c.user_id == user_id)
    ).scalar_one()
    if count >= MAX_SETS:
        raise InvalidInput(f"a user has at most {MAX_SETS} token sets", field="name")
    return int(
        conn.execute(
            insert(token_sets)
            .values(user_id=user_id, name=name, created_at=now)
            .returning(token_sets.c.id)
        ).scalar_one()
    )


def rename_set(conn: Connection, user_id: int, set_id: int, name: str) -> None:
    """Rename one of the user's sets."""
    _owned(conn, user_id, set_id)
    _check_name_free(conn, user_id, name, but=set_id)
    conn.execute(update(token_sets).where(token_sets.c.id == set_id).values(name=name))


def delete_set(conn: Connection, user_id: int, set_id: int) -> int:
    """Delete one of the user's sets; returns how many networks went back to their defaults."""
    _owned(conn, user_id, set_id)
    moved = conn.execute(
        update(networks).where(networks.c.token_set_id == set_id).values(token_set_id=None)
    ).rowcount
    conn.execute(token_sets.delete().where(token_sets.c.id == set_id))
    return int(moved)


def store_token(
    conn: Connection,
    user_id: int,
    set_id: int,
    name: str,
    ciphertext: bytes | None,
    now: datetime,
) -> None:
    """Set (or with ``None`` remove) one encrypted token of one of the user's sets."""
    _owned(conn, user_id, set_id)
    where = (platform_tokens.c.token_set_id == set_id) & (platform_tokens.c.name == name)
    conn.execute(platform_tokens.delete().where(where))
    if ciphertext is not None:
        conn.execute(
            insert(platform_tokens).values(
                token_set_id=set_id, name=name, ciphertext=ciphertext, updated_at=now
            )
        )


def share_set(conn: Connection, user_id: int, set_id: int, email: str, now: datetime) -> str:
    """Share one of the user's sets with the account of ``email``; returns that address."""
    _owned(conn, user_id, set_id)
    member = conn.execute(
        select(users.c.id, users.c.email).where(func.lower(users.c.email) == email.lower())
    ).first()
    if member is None:
        raise InvalidInput(f"no account has the email {email}", field="email")
    if member.id == user_id:
        raise InvalidInput("the set is yours already", field="email")
    known = conn.execute(
        select(token_set_members.c.user_id).where(
            token_set_members.c.token_set_id == set_id,
            token_set_members.c.user_id == member.id,
        )
    ).first()
    if known is not None:
        raise InvalidInput(f"the set is already shared with {member.email}", field="email")
    conn.execute(
        insert(token_set_members).values(token_set_id=set_id, user_id=member.id, created_at=now)
    )
    return str(member.email)


def unshare_set(conn: Connection, user_id: int, set_id: int, member_id: int) -> int:
    """End a share: the set's owner removes anyone, a member removes themselves.

    The member's networks that used the set go back to their own tokens;
    returns how many.
    """
    row = conn.execute(select(token_sets).where(token_sets.c.id == set_id)).first()
    if row is None or (row.user_id != user_id and member_id != user_id):
        raise NotFound(f"no token set {set_id}")
    removed = conn.execute(
        token_set_members.delete().where(
            token_set_members.c.token_set_id == set_id,
            token_set_members.c.user_id == member_id,
        )
    ).rowcount
    if not removed:
        raise NotFound(f"token set {set_id} is not shared with user {member_id}")
    moved = conn.execute(
        update(networks)
        .where(networks.c.token_set_id == set_id, networks.c.owner_id == member_id)
        .values(token_set_id=None)
    ).rowcount
    return int(moved)


def choose_for_network(conn: Connection, network_id: int, set_id: int | None) -> None:
    """The set a network's runs use (``None``: its owner's own sets, first first).

    Raises:
        InvalidInput: the network's owner may not use that set.
        NotFound: no such network.
    """
    owner_id = conn.execute(select(networks.c.owner_id).where(networks.c.id == network_id)).scalar()
    if owner_id is None:
        raise NotFound(f"no network with id {network_id}")
    if set_id is not None:
        usable = conn.execute(
            select(token_sets.c.id).where(token_sets.c.id == set_id, _may_use(owner_id))
        ).first()
        if usable is None:
            raise InvalidInput(
                "the network's owner has no token set with that id", field="token_set_id"
            )
    conn.execute(update(networks).where(networks.c.id == network_id).values(token_set_id=set_id))


def chosen_sets(conn: Connection, owner_id: int) -> dict[int, int | None]:
    """Each of the owner's networks with the set its runs use (``None``: the default)."""
    rows = conn.execute(
        select(networks.c.id, networks.c.token_set_id).where(networks.c.owner_id == owner_id)
    )
    return {r.id: r.token_set_id for r in rows}


def network_token(conn: Connection, network_id: int, name: str) -> bytes | None:
    """The ciphertext a network's runs use for ``name``.

    The chosen set's, while the network's owner may use it (and only that
    set: a chosen set without the token is a missing token, never someone
    else's); with none chosen, the first of the owner's own sets that has it.
    """
    network = conn.execute(
        select(networks.c.owner_id, networks.c.token_set_id).where(networks.c.id == network_id)
    ).first()
    if network is None:
        return None
    if network.token_set_id is not None:
        row = conn.execute(
            select(platform_tokens.c.ciphertext)
            .join(token_sets, token_sets.c.id == platform_tokens.c.token_set_id)
            .where(
                and_(
                    token_sets.c.id == network.token_set_id,
                    platform_tokens.c.name == name,
                    _may_use(network.owner_id),
                )
            )
        ).first()
        return None if row is None else bytes(row.ciphertext)
    row = conn.execute(
        select(platform_tokens.c.ciphertext)
        .join(token_sets, token_sets.c.id == platform_tokens.c.token_set_id)
        .where(token_sets.c.user_id == network.owner_id, platform_tokens.c.name == name)
        .order_by(token_sets.c.id)
    ).first()
    return None if row is None else bytes(row.ciphertext)
